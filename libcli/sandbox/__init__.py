"""The embedded demo library: a web app that speaks Finna's, WebPAC's and
Primo VE's dialects over real HTTP, on top of a circulation model that follows the
consortia's rules.

- ``circulation``: the model and its rules (no web code);
- ``seed``: demo data and the public demo cards (``DEMO_PATRONS``);
- ``store``: state in SQLite or memory;
- ``app``: ``create_app(view, ...)``, ``Options`` and the face contract;
- ``finna_face`` / ``webpac_face`` / ``primo_face``: the three dialects;
- ``misbehave``: fault injection;
- ``demo``: the in-process transport ``libcli demo`` uses;
- ``python -m libcli.sandbox``: a real server on 127.0.0.1.

Import the submodules directly; this package imports nothing heavy.
"""
