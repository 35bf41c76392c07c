"""Clarifying questions: when the bot hesitates between plausible answers, it asks which one, and reads the reply."""

import json

import pytest

from callbot.conversation import replay
from callbot.dialog import CallStarted, Dialog, NoInput, State, Utterance
from callbot.understanding.clarify import CHOSEN, DECLINED, FRESH, UNCLEAR, read_reply
from conftest import OPEN_HOURS, run_callbot
from test_dialog import call, said

# Transcripts of the example commune that the matcher is not confident about, but whose candidates are plausible
# (found with `callbot ask`; their choices are asserted below, so a matcher change that moves them fails here).
TWO_CHOICES = "bonjour il y a un gros trou dans la route rue des écoles"
ONE_CHOICE = "j ai oublié mon sac à la salle des sports dimanche"


@pytest.fixture
def dialog(example):
    return Dialog(example.config, example.book, example.matcher, example.calendar, lambda: OPEN_HOURS)


def test_the_matcher_offers_one_or_two_plausible_answers(example):
    two = example.matcher.decide(TWO_CHOICES)
    assert (two.action, two.choices) == ("clarify", ("voirie_eclairage", "urgence_astreinte"))
    one = example.matcher.decide(ONE_CHOICE)
    assert (one.action, one.choices) == ("clarify", ("objets_trouves",))


def test_off_topic_far_from_every_answer_is_not_clarified(example):
    assert example.matcher.decide("c est pour ma carte grise").action == "nomatch"


def test_the_question_names_the_answers_by_their_titles(dialog):
    dialog.handle(CallStarted())
    commands = dialog.handle(Utterance(TWO_CHOICES))
    assert commands[0].prompt.text == ("Votre question concerne-t-elle la voirie et l'éclairage public, "
                                       "ou une urgence ?")
    assert dialog.state is State.CLARIFYING
    other = Dialog(dialog.config, dialog.book, dialog.matcher, dialog.calendar, dialog.clock)
    other.handle(CallStarted())
    assert other.handle(Utterance(ONE_CHOICE))[0].prompt.text == "C'est au sujet des objets trouvés, c'est bien ça ?"


@pytest.mark.parametrize("reply, expected", [
    ("la première", "voirie_eclairage"),
    ("la deuxième", "urgence_astreinte"),
    ("le premier", "voirie_eclairage"),
    ("la voirie", "voirie_eclairage"),
    ("c est pour la voirie", "voirie_eclairage"),
    ("une urgence", "urgence_astreinte"),
    ("oui c est urgent", "urgence_astreinte"),
])
def test_a_choice_by_its_place_or_in_the_callers_words_gives_that_answer(dialog, reply, expected):
    results = call(dialog, CallStarted(), Utterance(TWO_CHOICES), Utterance(reply))
    assert results[1] == ["prompt:clarify_two", "Listen"]
    assert results[2][0] == f"answer:{expected}"  # the emergency's answer then transfers to the on-call service
    assert dialog.turns[-1].kind == "clarification_reply" and dialog.turns[-1].decision.answer == expected


def test_yes_to_a_single_choice_gives_it(dialog):
    results = call(dialog, CallStarted(), Utterance(ONE_CHOICE), Utterance("oui c est ça"))
    assert results[1] == ["prompt:clarify_one", "Listen"]
    assert results[2] == ["answer:objets_trouves", "prompt:anything_else", "Listen"]


@pytest.mark.parametrize("reply", ["non", "non pas du tout", "aucun des deux", "ni l un ni l autre"])
def test_no_goes_on_with_the_escalation(dialog, reply):
    results = call(dialog, CallStarted(), Utterance(TWO_CHOICES), Utterance(reply), Utterance("blabla"),
                   Utterance("blablabla"))
    assert results[2] == ["prompt:clarify_declined", "Listen"]
    assert results[3] == ["prompt:nomatch_2", "Listen"]
    assert results[4] == ["prompt:transfer", "transfer:accueil"]
    assert dialog.turns[1].decision.action == "declined"


def test_a_fresh_question_instead_of_a_choice_is_answered(dialog):
    results = call(dialog, CallStarted(), Utterance(TWO_CHOICES), Utterance("non en fait c est pour les encombrants"))
    assert results[2] == ["answer:encombrants", "prompt:anything_else", "Listen"]


def test_a_request_for_a_person_during_clarification_transfers(dialog):
    results = call(dialog, CallStarted(), Utterance(TWO_CHOICES), Utterance("passez moi quelqu un"))
    assert results[2] == ["prompt:transfer", "transfer:accueil"]


def test_yes_to_two_choices_asks_which_one_then_accepts_the_choice(dialog):
    results = call(dialog, CallStarted(), Utterance(TWO_CHOICES), Utterance("oui"), Utterance("la deuxième"))
    assert results[2] == ["prompt:clarify_two", "Listen"]
    assert results[3][0] == "answer:urgence_astreinte"


def test_repeat_during_clarification_asks_the_question_again(dialog):
    results = call(dialog, CallStarted(), Utterance(TWO_CHOICES), Utterance("pardon vous pouvez répéter"))
    assert results[2] == ["prompt:clarify_two", "Listen"]


def test_silence_after_the_question_counts_as_no_input(dialog):
    results = call(dialog, CallStarted(), Utterance(TWO_CHOICES), NoInput())
    assert results[2] == ["prompt:noinput_1", "Listen"] and dialog.state is State.LISTENING


def test_clarifications_in_a_row_are_limited(dialog):
    results = call(dialog, CallStarted(), Utterance(TWO_CHOICES), Utterance(ONE_CHOICE), Utterance(TWO_CHOICES))
    assert results[1][0] == "prompt:clarify_two" and results[2][0] == "prompt:clarify_one"
    assert results[3] == ["prompt:nomatch_1", "Listen"]


@pytest.mark.parametrize("reply, kind", [
    ("la première", CHOSEN), ("aucune des deux", DECLINED), ("oui", UNCLEAR), ("je voudrais une carte grise", FRESH),
])
def test_reading_a_reply(example, reply, kind):
    titles = example.book.titles()
    assert read_reply(example.matcher, ("voirie_eclairage", "urgence_astreinte"), titles, reply).kind == kind


def test_conversation_replay_reports_every_turn(example):
    ended = replay(example, [TWO_CHOICES, "la voirie"])
    assert (ended.action, ended.answer, len(ended.turns)) == ("answer", "voirie_eclairage", 2)
    assert [t["kind"] for t in ended.turns] == ["question", "clarification_reply"]
    assert ended.turns[0]["action"] == "clarify" and ended.turns[0]["choices"] == ["voirie_eclairage", "urgence_astreinte"]


def test_ask_json_shows_the_clarifying_question(example):
    result = run_callbot("ask", "--config", str(example.config.path), "--json", ONE_CHOICE)
    decision = json.loads(result.stdout)
    assert decision["action"] == "clarify" and decision["choices"] == ["objets_trouves"]
    assert decision["prompt"] == "C'est au sujet des objets trouvés, c'est bien ça ?"


def test_ask_conversation_reads_one_call_per_line(example):
    calls = json.dumps([TWO_CHOICES, "la première"]) + "\n" + json.dumps(["c est pour ma carte grise"]) + "\n"
    result = run_callbot("ask", "--config", str(example.config.path), "--json", "--conversation", stdin=calls)
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    assert (first["action"], first["answer"], first["turns"]) == ("answer", "voirie_eclairage", 2)
    assert [d["action"] for d in first["decisions"]] == ["clarify", "answer"]
    assert (second["action"], second["answer"], second["turns"]) == ("nomatch", None, 1)


def test_ask_conversation_refuses_a_line_that_is_not_a_list(example):
    result = run_callbot("ask", "--config", str(example.config.path), "--conversation", stdin="bonjour\n")
    assert result.returncode == 1 and "JSON list" in result.stderr


def test_goodbye_instead_of_a_choice_ends_the_call(dialog):
    results = call(dialog, CallStarted(), Utterance(TWO_CHOICES), Utterance("non merci au revoir"))
    assert results[2] == ["prompt:goodbye", "end:goodbye"]


def test_a_call_logs_the_clarifying_question_and_the_reply(example):
    from test_call_session import FakeLine, FakeSpeaker, RATE, ScriptedRecognizer, run

    from callbot.call import CallSession

    recognizer = ScriptedRecognizer()
    dialog = Dialog(example.config, example.book, example.matcher, example.calendar, lambda: OPEN_HOURS)
    session = CallSession("test", dialog, recognizer, FakeSpeaker(), FakeLine(), RATE)
    session.start()
    first = recognizer.say(1500, TWO_CHOICES)
    second = recognizer.say(first + 6000, "la première")
    run(session, second + 300)
    assert [k for _, k in session.played][:3] == ["prompt:greeting", "prompt:clarify_two", "answer:voirie_eclairage"]
    asked, reply = session.turns
    assert (asked.kind, asked.action, asked.choices) == ("question", "clarify", ("voirie_eclairage", "urgence_astreinte"))
    assert (reply.kind, reply.action, reply.answer) == ("clarification_reply", "answer", "voirie_eclairage")


def test_a_dated_answer_chosen_after_clarification_reads_the_date_of_the_question(dialog):
    from callbot.understanding.matcher import Decision

    dialog.handle(CallStarted())
    # the matcher's hesitation, as it would come for "vous êtes ouverts demain ou c est où"
    hesitation = Decision("vous êtes ouverts demain ou c est où", "clarify", None, 0.5, "contact_mairie", 0.45,
                          best="horaires_mairie", choices=("horaires_mairie", "contact_mairie"))
    assert said(dialog._respond(None, hesitation)) == ["prompt:clarify_two", "Listen"]
    commands = dialog.handle(Utterance("la première"))
    assert commands[0].prompt.key == "dated:horaires_mairie"
    assert commands[0].prompt.text.startswith("Demain, la mairie est ouverte")
