"""The dialog, replayed call by call without any audio or network."""

import pytest

from callbot.config import DialogSettings
from callbot.dialog import (CallStarted, CallerSpeaking, Dialog, Digit, End, Failure, HangUp, Listen, NoInput, Play,
                            Record, RecordingFinished, State, StopPlayback, Transfer, TransferFailed, Utterance)
from dataclasses import replace
from datetime import datetime

from conftest import OPEN_HOURS


@pytest.fixture
def dialog(example):
    return Dialog(example.config, example.book, example.matcher, example.calendar, lambda: OPEN_HOURS)


def said(commands):
    """The keys of the prompts played, and the other commands by name."""
    out = []
    for command in commands:
        if isinstance(command, Play):
            out.append(command.prompt.key)
        elif isinstance(command, Transfer):
            out.append(f"transfer:{command.target}")
        elif isinstance(command, End):
            out.append(f"end:{command.reason}")
        else:
            out.append(type(command).__name__)
    return out


def call(dialog, *events):
    return [said(dialog.handle(event)) for event in events]


def test_greeting_announces_an_automatic_assistant_and_how_to_reach_a_person(dialog):
    commands = dialog.handle(CallStarted())
    assert said(commands) == ["prompt:greeting", "Listen"]
    greeting = commands[0].prompt.text
    assert "Val-de-Lisière" in greeting and "assistant vocal automatique" in greeting
    assert "une personne" in greeting and "zéro" in greeting
    assert commands[1] == Listen(dialog.config.dialog.no_input_seconds)


def test_question_answer_anything_else_goodbye(dialog):
    assert call(dialog, CallStarted(), Utterance("bonjour je voudrais savoir quand passent les poubelles"),
                Utterance("non merci au revoir")) == [
        ["prompt:greeting", "Listen"],
        ["answer:ordures_menageres", "prompt:anything_else", "Listen"],
        ["prompt:goodbye", "end:goodbye"],
    ]
    assert dialog.state is State.ENDED and dialog.end_reason == "goodbye"
    assert [t.decision.answer for t in dialog.turns[:1]] == ["ordures_menageres"]


def test_a_second_question_instead_of_yes(dialog):
    assert call(dialog, CallStarted(), Utterance("la cantine"), Utterance("et le recensement de mon fils"))[2] == \
        ["answer:recensement_citoyen", "prompt:anything_else", "Listen"]


def test_yes_to_anything_else_invites_the_question(dialog):
    assert call(dialog, CallStarted(), Utterance("la cantine"), Utterance("oui"))[2] == ["prompt:listening", "Listen"]


def test_silence_after_anything_else_ends_politely(dialog):
    assert call(dialog, CallStarted(), Utterance("la cantine"), NoInput())[2] == ["prompt:goodbye", "end:goodbye"]


def test_follow_up_question_replaces_anything_else_and_yes_repeats(dialog):
    followed = dialog.book.by_id("dechetterie")
    assert followed.follow_up
    dialog.handle(CallStarted())
    first = said(dialog.handle(Utterance("où est la déchetterie")))
    assert first == [f"answer:{followed.id}", f"follow_up:{followed.id}", "Listen"]
    assert said(dialog.handle(Utterance("oui s il vous plaît"))) == [f"answer:{followed.id}", "prompt:anything_else", "Listen"]


def test_no_match_escalates_reprompt_then_help_then_person(dialog):
    assert call(dialog, CallStarted(), Utterance("c est pour ma carte grise"), Utterance("la carte grise de ma voiture"),
                Utterance("ma carte grise"))[1:] == [
        ["prompt:nomatch_1", "Listen"],
        ["prompt:nomatch_2", "Listen"],
        ["prompt:transfer", "transfer:accueil"],
    ]


def test_understanding_resets_the_no_match_count(dialog):
    results = call(dialog, CallStarted(), Utterance("blabla"), Utterance("la cantine"), Utterance("oui"),
                   Utterance("blabla"))
    assert results[4] == ["prompt:nomatch_1", "Listen"]


def test_no_input_escalates_then_transfers(dialog):
    assert call(dialog, CallStarted(), NoInput(), NoInput(), NoInput())[1:] == [
        ["prompt:noinput_1", "Listen"], ["prompt:noinput_2", "Listen"], ["prompt:transfer", "transfer:accueil"]]


def test_escalation_without_reception_says_nobody_is_available(example):
    config = replace(example.config, reception=None)
    dialog = Dialog(config, example.book, example.matcher, example.calendar, lambda: OPEN_HOURS)
    assert call(dialog, CallStarted(), NoInput(), NoInput(), NoInput())[3] == ["prompt:nobody_available",
                                                                               "end:nobody_available"]


def test_fewer_attempts_transfer_sooner(example):
    config = replace(example.config, dialog=DialogSettings(attempts=1))
    dialog = Dialog(config, example.book, example.matcher, example.calendar, lambda: OPEN_HOURS)
    assert call(dialog, CallStarted(), Utterance("blabla"))[1] == ["prompt:transfer", "transfer:accueil"]


def test_repeat_and_star_replay_the_last_answer(dialog):
    results = call(dialog, CallStarted(), Utterance("où est la déchetterie"), Utterance("vous pouvez répéter"),
                   Digit("*"))
    assert results[2] == ["answer:dechetterie", "prompt:anything_else", "Listen"]
    assert results[3] == ["StopPlayback", "answer:dechetterie", "prompt:anything_else", "Listen"]


def test_slower_repeats_at_the_configured_speed(dialog):
    dialog.handle(CallStarted())
    dialog.handle(Utterance("la médiathèque"))
    commands = dialog.handle(Utterance("plus lentement s il vous plaît"))
    assert commands[0].prompt.key == "answer:mediatheque"
    assert commands[0].prompt.speed == dialog.config.dialog.slower_speed < 1


def test_repeat_before_any_answer(dialog):
    assert call(dialog, CallStarted(), Utterance("répétez"))[1] == ["prompt:nothing_to_repeat", "Listen"]


def test_keypad_zero_and_spoken_request_reach_a_person(dialog):
    assert call(dialog, CallStarted(), Digit("0"))[1] == ["StopPlayback", "prompt:transfer", "transfer:accueil"]
    other = Dialog(dialog.config, dialog.book, dialog.matcher, dialog.calendar, dialog.clock)
    assert call(other, CallStarted(), Utterance("je voudrais parler à quelqu un"))[1] == ["prompt:transfer",
                                                                                        "transfer:accueil"]


def test_transfer_prompt_names_the_target(dialog):
    dialog.handle(CallStarted())
    commands = dialog.handle(Digit("0"))
    assert "Accueil de la mairie" in commands[1].prompt.text
    assert not commands[1].prompt.interruptible


def test_emergency_answer_then_on_call_transfer(dialog):
    results = call(dialog, CallStarted(), Utterance("il y a un arbre tombé en travers de la route cette nuit c est une urgence"))
    assert results[1] == ["answer:urgence_astreinte", "prompt:transfer", "transfer:astreinte"]


EMERGENCY = "il y a un arbre tombé en travers de la route cette nuit c est une urgence"


@pytest.mark.parametrize("events, target, reason, topic", [
    ([Digit("0")], "accueil", "demande_personne", None),
    ([Utterance("je voudrais parler à quelqu un")], "accueil", "demande_personne", None),
    ([Utterance("blabla"), Utterance("la carte grise de ma voiture"), Utterance("ma carte grise")],
     "accueil", "incompris", None),
    ([NoInput(), NoInput(), NoInput()], "accueil", "silence", None),
    ([Utterance(EMERGENCY)], "astreinte", "urgence", "urgence_astreinte"),
    ([Failure("tts crashed")], "accueil", "erreur", None),
])
def test_every_transfer_says_why(dialog, events, target, reason, topic):
    commands = [c for event in [CallStarted(), *events] for c in dialog.handle(event)]
    transfers = [c for c in commands if isinstance(c, Transfer)]
    assert transfers == [Transfer(target, reason, topic)]


def test_an_answer_handing_over_to_a_target_that_is_not_on_call_is_an_after_answer_transfer(example):
    targets = {**example.config.targets, "astreinte": replace(example.config.targets["astreinte"], on_call=False)}
    dialog = Dialog(replace(example.config, targets=targets), example.book, example.matcher, example.calendar,
                    lambda: OPEN_HOURS)
    dialog.handle(CallStarted())
    assert dialog.handle(Utterance(EMERGENCY))[-1] == Transfer("astreinte", "apres_reponse", "urgence_astreinte")


def test_office_hours_policy_transfer_says_so(example):
    dialog = Dialog(replace(example.config, during_office_hours="transfer"), example.book, example.matcher,
                    example.calendar, lambda: OPEN_HOURS)
    assert dialog.handle(CallStarted())[-1] == Transfer("accueil", "heures_ouverture")


def test_failed_transfer_takes_a_message(dialog):
    results = call(dialog, CallStarted(), Digit("0"), TransferFailed("486 Busy Here"),
                   RecordingFinished("bonjour c est madame martin rappelez moi", 12.0))
    assert results[2] == ["prompt:transfer_failed", "prompt:message_offer", "Record"]
    assert results[3] == ["prompt:message_saved", "end:message"]
    assert dialog.turns[-1].transcript == "bonjour c est madame martin rappelez moi"


def test_failed_transfer_without_messages_ends_politely(example):
    config = replace(example.config, dialog=DialogSettings(messages=False))
    dialog = Dialog(config, example.book, example.matcher, example.calendar, lambda: OPEN_HOURS)
    assert call(dialog, CallStarted(), Digit("0"), TransferFailed("timeout"))[2] == ["prompt:nobody_available",
                                                                                   "end:nobody_available"]


def test_record_uses_the_configured_maximum(dialog):
    dialog.handle(CallStarted())
    dialog.handle(Digit("0"))
    record = dialog.handle(TransferFailed("busy"))[-1]
    assert record == Record(dialog.config.dialog.max_message_seconds)


@pytest.mark.parametrize("partial, speech_ms, cuts", [
    ("oui", 300, False),
    ("hm", 1500, False),
    ("euh oui d accord", 1200, False),
    ("les poubelles", 600, True),
    ("cantine", 400, False),
    ("cantine", 1000, True),
])
def test_barge_in_ignores_backchannels_and_short_noises(dialog, partial, speech_ms, cuts):
    dialog.handle(CallStarted())
    assert (dialog.handle(CallerSpeaking(partial, speech_ms)) == [StopPlayback()]) is cuts


def test_utterances_during_transfer_are_ignored(dialog):
    assert call(dialog, CallStarted(), Digit("0"), Utterance("allô"), Digit("5"), NoInput())[2:] == [[], [], []]


def test_internal_error_apologises_then_transfers(dialog):
    assert call(dialog, CallStarted(), Failure("tts crashed"))[1] == ["StopPlayback", "prompt:error", "prompt:transfer",
                                                                     "transfer:accueil"]


def test_internal_error_during_transfer_apologises_and_hangs_up(dialog):
    assert call(dialog, CallStarted(), Digit("0"), Failure("xfer"))[2] == ["StopPlayback", "prompt:error",
                                                                          "prompt:goodbye", "end:error"]


def test_hang_up_ends_at_any_moment_and_nothing_follows(dialog):
    assert call(dialog, CallStarted(), HangUp(), Utterance("la cantine"), NoInput()) == [
        ["prompt:greeting", "Listen"], ["end:hangup"], [], []]
    assert dialog.end_reason == "hangup"


def test_every_prompt_is_french_and_polite(dialog):
    for key in dialog.config.prompts:
        text = dialog.config.prompt(key, target="l'accueil", first="la cantine", second="le périscolaire")
        words = set(text.lower().replace("'", " ").replace(",", " ").replace(".", " ").split())
        assert not words & {"tu", "toi", "ton", "ta", "tes"}, key
        assert text[0].isupper() and text.rstrip()[-1] in ".?!»", key


def test_time_limit_says_goodbye(dialog):
    from callbot.dialog import TimeLimit
    assert call(dialog, CallStarted(), TimeLimit())[1] == ["StopPlayback", "prompt:goodbye", "end:time_limit"]



def at(example, moment: datetime, **config_changes) -> Dialog:
    config = replace(example.config, **config_changes) if config_changes else example.config
    dialog = Dialog(config, example.book, example.matcher, example.calendar, lambda: moment)
    dialog.handle(CallStarted())
    return dialog


def test_a_date_gets_the_hours_of_that_day(example):
    dialog = at(example, datetime(2026, 12, 23, 18, 0))  # a Wednesday evening
    play = dialog.handle(Utterance("la mairie est ouverte demain"))[0]
    assert play.prompt.key == "dated:horaires_mairie" and not play.prompt.static
    assert play.prompt.text.startswith("Demain") and "ouverte" in play.prompt.text


def test_christmas_day_is_closed(example):
    play = at(example, datetime(2026, 12, 23, 18, 0)).handle(Utterance("vous êtes ouverts le vingt cinq décembre"))[0]
    assert "Noël" in play.prompt.text and "fermée" in play.prompt.text


def test_without_a_date_the_written_answer_is_said(example):
    play = at(example, OPEN_HOURS).handle(Utterance("quels sont les horaires de la mairie"))[0]
    assert play.prompt.key == "answer:horaires_mairie" and play.prompt.static


def test_bins_on_a_public_holiday_move_to_the_next_day(example):
    # 2026-12-22 is a Tuesday (collection day); Christmas 2029 is also a Tuesday
    play = at(example, datetime(2029, 12, 20, 9, 0)).handle(
        Utterance("est ce que les poubelles passent le vingt cinq décembre"))[0]
    assert play.prompt.key == "dated:ordures_menageres"
    assert "reportée" in play.prompt.text and "mercredi vingt-six décembre" in play.prompt.text


def test_canteen_menu_of_a_day_and_no_invention(example):
    dialog = at(example, datetime(2026, 11, 30, 9, 0))  # Monday
    menu = dialog.handle(Utterance("c est quoi le menu de la cantine jeudi"))[0].prompt.text
    assert menu.startswith("Jeudi") or menu.startswith("Le jeudi")
    assert "menu" in menu
    dialog = at(example, datetime(2026, 11, 30, 9, 0))
    saturday = dialog.handle(Utterance("qu est ce qu ils mangent à la cantine samedi"))[0].prompt.text
    assert "pas de cantine" in saturday.lower()


def test_enrolment_question_with_a_date_keeps_the_written_answer(example):
    play = at(example, OPEN_HOURS).handle(Utterance("je voudrais inscrire mon fils à la cantine à partir de lundi"))[0]
    assert play.prompt.key == "answer:cantine"


def test_outside_office_hours_a_request_for_a_person_ends_in_a_message(example):
    dialog = at(example, datetime(2026, 12, 5, 20, 0))  # Saturday evening
    commands = dialog.handle(Digit("0"))
    keys = said(commands)
    assert keys == ["StopPlayback", "dated:closed", "prompt:target_closed", "prompt:message_offer", "Record"]
    assert "fermée" in commands[1].prompt.text and "rouvre" in commands[1].prompt.text


def test_emergencies_are_transferred_at_night(example):
    dialog = at(example, datetime(2026, 12, 5, 23, 30))
    results = said(dialog.handle(Utterance("il y a un arbre tombé en travers de la route cette nuit c est une urgence")))
    assert results == ["answer:urgence_astreinte", "prompt:transfer", "transfer:astreinte"]


def test_office_hours_policy_can_send_callers_straight_to_the_reception(example):
    open_dialog = Dialog(replace(example.config, during_office_hours="transfer"), example.book, example.matcher,
                         example.calendar, lambda: OPEN_HOURS)
    assert said(open_dialog.handle(CallStarted())) == ["prompt:greeting", "prompt:transfer", "transfer:accueil"]
    closed = Dialog(replace(example.config, during_office_hours="transfer"), example.book, example.matcher,
                    example.calendar, lambda: datetime(2026, 12, 6, 11, 0))  # Sunday
    assert said(closed.handle(CallStarted())) == ["prompt:greeting", "Listen"]
