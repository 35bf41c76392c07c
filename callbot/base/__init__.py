"""The common base of answers: what every mairie in France is asked, ready to adopt.

`answers.yaml` holds the answers (title, example questions by several
authors, keywords, a text right for France with the commune's own facts as
`{placeholders}`); `facts-modele.yaml` lists the placeholders for a commune
to fill; `TOPICS.md` and `AUTHORS.md` say what the base covers and who wrote
it. The code that adopts it is `callbot.base.adoption`.
"""
