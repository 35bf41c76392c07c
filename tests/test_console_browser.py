"""The staff console end to end, in Debian's Chromium (headless, driven by Selenium through chromedriver).

One mairie for the whole module: a real `callbot serve` on the test models and
a real `callbot console`, both on the same configuration, and the steps a
secretary takes in order: log in, find last week's unanswered questions,
teach the bot one, try it, hear the answer, publish it (the running service
reloads it), and undo it. Every page is photographed at desktop and phone
width into docs/screenshots/.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import REPO, SHORT_PROMPTS, run_callbot
from console_fixtures import EDITOR, PASSWORD, UNANSWERED, VIEWER, fill_journal, leave_message, make_mairie
from peers import free_port, free_udp_range

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO / "docs" / "screenshots"
DESKTOP, PHONE = (1280, 900), (390, 844)
ZOOMED = (640, 450)  # a desktop window at 200 % zoom shows 640 CSS pixels across
LOCKED = "verrou"  # an account the lockout test may lock without hindering the others
RELOAD_WAIT_S = 300  # publish to "reloaded" (see the publish test)


class Process:
    """A `callbot` subcommand in the background, with its log."""

    def __init__(self, args: list[str], log: Path):
        self.log_path = log
        self.log = open(log, "w")
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen([sys.executable, "-m", "callbot", *args], stdout=self.log,
                                        stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while self.text().count(text) < count:
            assert self.process.poll() is None, f"exited:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.text()}"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.log.close()


@pytest.fixture(scope="module")
def mairie(tmp_path_factory, prompt_cache_dir):
    folder = tmp_path_factory.mktemp("console-e2e")
    sip, rtp = free_udp_range(1), free_udp_range(2)
    config = make_mairie(folder, prompt_cache_dir, {
        "sip": {"listen": f"127.0.0.1:{sip}", "codecs": ["PCMA"], "rtp_ports": f"{rtp}-{rtp + 99}"},
        **yaml.safe_load(SHORT_PROMPTS)})  # the prompts the other service tests render into the shared cache
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["console"]["listen"] = f"127.0.0.1:{free_port('tcp')}"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8")
    fill_journal(folder / "journal.sqlite3", datetime.now())
    for name, role in ((EDITOR, "editor"), (VIEWER, "viewer"), (LOCKED, "editor")):
        added = run_callbot("console", "adduser", name, "--role", role, "--password-stdin", "--config", str(config),
                            stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
    return folder, config, settings["console"]["listen"]


@pytest.fixture(scope="module")
def bot(mairie):
    folder, config, _ = mairie
    service = Process(["serve", "--config", str(config)], folder / "serve.log")
    try:
        service.wait_log("answering calls", 300)  # the first start renders every prompt into the cache
        (folder / "callbot.pid").write_text(str(service.process.pid))
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def console_url(mairie):
    folder, config, listen = mairie
    console = Process(["console", "--config", str(config)], folder / "console.log")
    try:
        console.wait_log("callbot console: http", 60)
        yield f"http://{listen}"
    finally:
        console.stop()


@pytest.fixture(scope="module")
def browser():
    for program in (CHROMIUM, CHROMEDRIVER):
        assert program.exists(), f"{program} is missing: scripts/setup --test installs chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=fr-FR",
                     "--autoplay-policy=no-user-gesture-required", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shoot(driver, name: str) -> None:
    """Photograph the whole page at desktop and at phone width; at 200 % zoom and at phone width nothing
    may stick out sideways (no horizontal scrolling to read a line)."""
    for label, (width, height) in (("desktop", DESKTOP), ("zoomed", ZOOMED), ("phone", PHONE)):
        driver.set_window_size(width, height)
        wide = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert wide[0] <= wide[1], f"{name} is {wide[0]} px wide in a {wide[1]} px window"
        if label == "zoomed":
            continue
        full = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height, full + 140), 4000))
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-{label}.png"))
    driver.set_window_size(*DESKTOP)


def click_and_wait(driver, element) -> None:
    """Click something that loads a new page, and wait until the new page has replaced the old one."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def log_in(driver, url: str, name: str, password: str = PASSWORD) -> None:
    driver.delete_all_cookies()
    driver.get(f"{url}/connexion")
    driver.find_element(By.ID, "nom").send_keys(name)
    driver.find_element(By.ID, "mot_de_passe").send_keys(password)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))


def body(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def wav_header(driver, src: str) -> dict:
    """Fetch an audio URL from the page (with its cookie) and read its WAV header."""
    return driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => {
          const v = new DataView(b);
          const tag = i => String.fromCharCode(...new Uint8Array(b, i, 4));
          done({riff: tag(0), wave: tag(8), channels: v.getUint16(22, true), rate: v.getUint32(24, true),
                bits: v.getUint16(34, true), bytes: b.byteLength});
        }).catch(e => done({error: String(e)}));""", src)


def audio_loads(driver, element_id: str) -> dict:
    """Load an <audio> element of the page and report whether the browser could decode it."""
    return driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const audio = document.getElementById(arguments[0]);
        audio.addEventListener('loadedmetadata', () => done({duration: audio.duration, error: null}), {once: true});
        audio.addEventListener('error', () => done({duration: 0, error: audio.error && audio.error.code}), {once: true});
        audio.preload = 'auto'; audio.load();""", element_id)


# The tests share one mairie and run in this order, as a secretary's session would.

def test_wrong_password_then_lockout(browser, console_url):
    for attempt in range(5):
        log_in(browser, console_url, LOCKED, "pas le bon mot de passe")
        if attempt == 0:
            assert "Nom ou mot de passe erroné" in body(browser)
            shoot(browser, "connexion-refusee")
    assert "bloqué pendant 15 minutes" in body(browser)
    log_in(browser, console_url, LOCKED)
    assert "Ce compte est bloqué" in body(browser)
    assert "/connexion" in browser.current_url


def test_log_in(browser, console_url, bot):
    browser.delete_all_cookies()
    browser.get(f"{console_url}/reponses")
    assert "/connexion" in browser.current_url
    shoot(browser, "connexion")
    log_in(browser, console_url, EDITOR)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Tableau de bord"
    assert "Appels par jour" in body(browser) and browser.find_elements(By.CSS_SELECTOR, ".report svg")
    cookie = browser.get_cookie("callbot_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    shoot(browser, "tableau-de-bord")


def test_keyboard_reaches_the_menu_first(browser, console_url):
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{console_url}/")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert browser.switch_to.active_element.text == "Aller au contenu"
    browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.text == "Tableau de bord"


def test_add_an_unanswered_question_as_an_example_to_an_answer(browser, console_url):
    browser.get(f"{console_url}/questions")
    shoot(browser, "questions-sans-reponse")
    group = browser.find_elements(By.CSS_SELECTOR, "section.question")[0]
    assert UNANSWERED[0] in group.text and "3 fois" in group.text
    Select(group.find_element(By.TAG_NAME, "select")).select_by_value("salle_des_fetes")
    click_and_wait(browser, group.find_element(By.XPATH, ".//button[text()='Ajouter']"))
    assert "/reponses/salle_des_fetes" in browser.current_url
    assert "Question ajoutée" in body(browser)
    assert UNANSWERED[0] in browser.find_element(By.ID, "questions").get_attribute("value")
    browser.get(f"{console_url}/questions")
    assert UNANSWERED[0] not in body(browser)


def test_create_an_answer_and_try_a_question_to_see_the_new_decision(browser, console_url):
    sentence = "la piscine est ouverte quand"
    browser.get(f"{console_url}/essayer")
    browser.find_element(By.ID, "phrase").send_keys(sentence)
    click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Essayer']"))
    assert "faire reformuler (nomatch)" in browser.find_element(By.ID, "decision").text

    browser.get(f"{console_url}/questions")
    group = next(s for s in browser.find_elements(By.CSS_SELECTOR, "section.question") if "piscine" in s.text)
    click_and_wait(browser, group.find_element(By.LINK_TEXT, "Créer une nouvelle réponse"))
    assert UNANSWERED[2] in browser.find_element(By.ID, "questions").get_attribute("value")
    Select(browser.find_element(By.ID, "sheet")).select_by_value("answers/vie_locale.yaml")
    browser.find_element(By.ID, "id").send_keys("piscine")
    browser.find_element(By.ID, "answer").send_keys(
        "La piscine municipale est ouverte du mardi au dimanche, de 10h à 19h.")
    click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Créer la réponse']"))
    assert "/reponses/piscine" in browser.current_url and "Réponse créée" in body(browser), body(browser)
    shoot(browser, "reponse")

    browser.get(f"{console_url}/essayer")
    browser.find_element(By.ID, "phrase").send_keys(sentence)
    click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Essayer']"))
    decision = browser.find_element(By.ID, "decision").text
    assert "répondre (answer)" in decision and "piscine" in decision
    assert "La piscine municipale est ouverte du mardi au dimanche" in decision
    shoot(browser, "essayer")


def test_listen_to_an_answer(browser, console_url):
    browser.get(f"{console_url}/reponses/piscine")
    audio = browser.find_element(By.ID, "audio-reponse")
    header = wav_header(browser, audio.get_attribute("src"))
    assert header["riff"] == "RIFF" and header["wave"] == "WAVE", header
    assert (header["rate"], header["channels"], header["bits"]) == (8000, 1, 16)
    assert header["bytes"] > 8000 * 2  # over a second of speech
    loaded = audio_loads(browser, "audio-reponse")
    assert loaded["error"] is None and loaded["duration"] > 1.0, loaded


def test_a_forged_form_without_csrf_token_is_refused(browser, console_url):
    browser.get(f"{console_url}/publier")
    browser.execute_script("document.querySelectorAll('form.publish input[name=csrf]').forEach(e => e.remove())")
    click_and_wait(browser, browser.find_element(By.XPATH, "//form[@class='publish']//button[text()='Publier']"))
    assert "Erreur 400" in body(browser) and "falsifié" in body(browser)
    browser.get(f"{console_url}/publier")
    assert "answers/vie_locale.yaml" in body(browser)  # still only in the draft


def test_publish_and_the_running_service_uses_the_new_version(browser, console_url, bot):
    browser.get(f"{console_url}/publier")
    assert "+  - id: piscine" in body(browser) and "Aucune erreur" in body(browser)
    shoot(browser, "publier")
    browser.find_element(By.ID, "note").send_keys("piscine et salle des fêtes")
    click_and_wait(browser, browser.find_element(By.XPATH, "//form[@class='publish']//button[text()='Publier']"))
    assert "Publié : version 2" in browser.find_element(By.ID, "resultat").text
    # the supervisor renders what the cache lacks before the workers reload: a first start's background fill
    # may still be running then, at low priority, so this can take minutes on a busy machine
    bot.wait_log("reloaded: 34 answers", RELOAD_WAIT_S)  # the example's 33 and the new one


def test_restore_the_previous_version(browser, console_url, bot, mairie):
    folder, config, _ = mairie
    browser.get(f"{console_url}/publier")
    click_and_wait(browser, browser.find_element(By.ID, "restaurer-1"))
    assert "Version 1 restaurée" in browser.find_element(By.ID, "resultat").text
    bot.wait_log("reloaded: 33 answers", RELOAD_WAIT_S)
    live = (folder / "mairie" / "answers" / "vie_locale.yaml").read_text(encoding="utf-8")
    assert live == (REPO / "callbot" / "example" / "answers" / "vie_locale.yaml").read_text(encoding="utf-8")
    assert "restauration de la version 1" in body(browser)


def test_calendar_a_closure_and_what_the_bot_says_that_day(browser, console_url):
    browser.get(f"{console_url}/calendrier")
    Select(browser.find_element(By.ID, "lieu")).select_by_value("mairie")
    browser.execute_script("document.getElementById('du').value = '2027-03-15';"
                           "document.getElementById('au').value = '2027-03-19'")
    browser.find_element(By.ID, "motif").send_keys("inventaire des archives")
    click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Ajouter la fermeture']"))
    assert "du 15/03/2027 au 19/03/2027 : inventaire des archives" in body(browser)
    browser.execute_script("document.getElementById('jour').value = '2027-03-16'")
    click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Voir']"))
    assert "inventaire des archives" in browser.find_element(By.ID, "dit").text
    shoot(browser, "calendrier")


def test_a_viewer_is_refused_on_an_editor_page(browser, console_url):
    log_in(browser, console_url, VIEWER)
    assert "Réponses" not in browser.find_element(By.TAG_NAME, "nav").text
    browser.get(f"{console_url}/reponses")
    assert "Erreur 403" in body(browser) and "réservée aux comptes « éditeur »" in body(browser)
    shoot(browser, "refus-lecteur")


def test_a_message_listened_to_and_deleted(browser, console_url, mairie):
    folder, _, _ = mairie
    stem = leave_message(folder / "spool", datetime.now(), "e2e42")
    log_in(browser, console_url, EDITOR)
    browser.get(f"{console_url}/messages")
    assert "madame martin" in body(browser)
    shoot(browser, "messages")
    audio = browser.find_element(By.CSS_SELECTOR, "section.message audio")
    browser.execute_script("arguments[0].id = 'message-audio'", audio)
    loaded = audio_loads(browser, "message-audio")
    assert loaded["error"] is None and loaded["duration"] > 0.5, loaded
    browser.get(f"{console_url}/journal")
    assert "écoute d'un message" in body(browser) and stem in body(browser)
    shoot(browser, "journal")
    browser.get(f"{console_url}/messages")
    click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Supprimer']"))
    assert "Message supprimé" in body(browser) and "madame martin" not in body(browser)
    assert not list((folder / "spool").glob(f"{stem}.*"))


def test_the_answers_page(browser, console_url):
    browser.get(f"{console_url}/reponses?q=mairie")
    assert "horaires_mairie" in body(browser)
    shoot(browser, "reponses")
