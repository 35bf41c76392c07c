"""Every sentence the bot says outside the answers, with its French default.

Staff override any of them under `prompts:` in callbot.yaml. Placeholders in
braces are filled at run time: {commune} everywhere, {target} in `transfer`.
"""

from __future__ import annotations

DEFAULT_PROMPTS: dict[str, str] = {
    # The AI Act requires telling callers they talk to a machine, and how to reach a person.
    "greeting": ("Bonjour, vous êtes bien à la mairie de {commune}. Je suis l'assistant vocal automatique de la mairie. "
                 "Posez-moi votre question en quelques mots. Pour parler à une personne, dites simplement "
                 "« une personne », ou tapez zéro."),
    "listening": "Je vous écoute.",
    "anything_else": "Avez-vous une autre question ?",
    "goodbye": "Merci de votre appel. Au revoir, et bonne journée.",
    "nomatch_1": "Excusez-moi, je n'ai pas bien compris. Pouvez-vous reformuler votre question en quelques mots ?",
    "nomatch_2": ("Je ne suis toujours pas sûr de vous avoir compris. Vous pouvez me demander par exemple "
                  "les horaires de la mairie, un acte de naissance, ou les jours de ramassage des poubelles. "
                  "Quelle est votre question ?"),
    # Clarifying questions: {first} and {second} are the answers' titles ("les horaires de la mairie").
    "clarify_two": "Votre question concerne-t-elle {first}, ou {second} ?",
    "clarify_one": "C'est au sujet de {first}, c'est bien ça ?",
    "clarify_declined": "D'accord, excusez-moi. Pouvez-vous me redire votre question, en quelques mots ?",
    "noinput_1": "Je ne vous entends pas. Quelle est votre question ?",
    "noinput_2": ("Je ne vous entends toujours pas. Posez-moi votre question en quelques mots, "
                  "ou tapez zéro pour parler à une personne."),
    "transfer": "Je vous mets en relation avec {target}. Merci de patienter quelques instants.",
    "nobody_available": ("Je suis désolé, personne ne peut prendre votre appel pour le moment. "
                         "Je vous invite à rappeler la mairie pendant ses heures d'ouverture. Au revoir."),
    "nothing_to_repeat": "Je ne vous ai pas encore donné de réponse. Quelle est votre question ?",
    "transfer_failed": "Je suis désolé, votre correspondant n'est pas disponible.",
    "target_closed": "Je suis désolé, personne ne peut prendre votre appel en dehors des heures d'ouverture.",
    "message_offer": ("Vous pouvez laisser un message après le bip sonore : donnez votre nom, votre numéro de téléphone "
                      "et l'objet de votre appel. Raccrochez quand vous avez terminé."),
    "message_saved": "Votre message a bien été enregistré. La mairie vous rappellera. Au revoir.",
    "error": "Excusez-moi, je rencontre un problème technique.",
}

PLACEHOLDERS: dict[str, frozenset[str]] = {key: frozenset({"commune"}) for key in DEFAULT_PROMPTS}
PLACEHOLDERS["transfer"] = frozenset({"commune", "target"})
PLACEHOLDERS["clarify_two"] = frozenset({"commune", "first", "second"})
PLACEHOLDERS["clarify_one"] = frozenset({"commune", "first"})
