"""Demo data for each view, laid out relative to the clock's today.

The demo card numbers and PINs below are public demo data (``DEMO_PATRONS``).
Each view's first patron shows every account state at once; the others cover
the payment cases (below the online minimum, no e-mail, a replacement fee).

``build_library(view, clock, seed=N)`` is reproducible: the fixed demo
accounts never change, and ``seed`` only drives the extra generated
catalogue and the background patrons' holds. ``build_library(...,
big_loans=N)`` adds the big-account patron ``BIG_CARD`` with N loans.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from libcli.model import FeeType, HoldStatus, Material

from .circulation import Clock, Item, Library, Patron, PickupLocation, Title

VIEWS = ("heili", "tuni", "helmet", "tallinn")


@dataclass(frozen=True)
class DemoPatron:
    view: str
    card: str
    pin: str
    name: str
    note: str  # what this account demonstrates


DEMO_PATRONS: tuple[DemoPatron, ...] = (
    DemoPatron("heili", "10000001", "1234", "Aino Heilinen", "every state; fees payable online"),
    DemoPatron("heili", "10000002", "2345", "Eero Pienimaksu", "fees below the online minimum"),
    DemoPatron("heili", "10000003", "3456", "Saara Postiton", "fees, but no e-mail address"),
    DemoPatron("tuni", "20000001", "1234", "Tuomas Tutkija", "every state; a replacement fee blocks payment"),
    DemoPatron("tuni", "20000002", "2345", "Elina Opiskelija", "fees payable online"),
    DemoPatron("tuni", "20000003", "3456", "Ville Vähävelka", "fees below the online minimum"),
    DemoPatron("helmet", "2100000001", "1234", "Helmi Lukija", "every state; fees payable online"),
    DemoPatron("helmet", "2100000002", "2345", "Kalle Myöhäinen", "a loan over 28 days late: borrowing right lost"),
    DemoPatron("tallinn", "30000001", "1234", "Mari Lugeja", "every state; fees paid by bank transfer"),
    DemoPatron("tallinn", "30000002", "2345", "Jaan Tamm", "a few loans, no fees"),
)

# A patron with many loans, only present when build_library(big_loans=N) asks.
BIG_CARD = "99990000"
BIG_PIN = "9999"

PICKUP_LOCATIONS: dict[str, tuple[PickupLocation, ...]] = {
    "heili": (
        PickupLocation("lpr", "Lappeenrannan pääkirjasto"),
        PickupLocation("ima", "Imatran pääkirjasto"),
        PickupLocation("sam", "Sammonlahden kirjasto"),
        PickupLocation("lau", "Lauritsalan kirjasto"),
        PickupLocation("jou", "Joutsenon kirjasto"),
        PickupLocation("par", "Parikkalan kirjasto"),
        PickupLocation("ruo", "Ruokolahden kirjasto"),
    ),
    "tuni": (
        PickupLocation("linna", "Linna, City Centre campus"),
        PickupLocation("arkade", "Arkade, Kauppi campus"),
        PickupLocation("hervanta", "Tietotalo, Hervanta campus"),
    ),
    "helmet": (
        PickupLocation("h00", "Oodi"),
        PickupLocation("h53", "Pasila"),
        PickupLocation("e10", "Sello"),
        PickupLocation("e23", "Entresse"),
        PickupLocation("v10", "Tikkurila"),
        PickupLocation("h34", "Itäkeskus"),
        PickupLocation("k10", "Kauniainen"),
    ),
    "tallinn": (
        PickupLocation("kesk", "TlnRK Keskraamatukogu"),
        PickupLocation("kadr", "TlnRK Kadrioru"),
        PickupLocation("nomm", "TlnRK Nõmme"),
        PickupLocation("paas", "TlnRK Pääsküla"),
        PickupLocation("sole", "TlnRK Sõle"),
    ),
}

# (title, author, year, format, material, subjects)
CATALOGUE: tuple[tuple[str, str, int, str, Material, tuple[str, ...]], ...] = (
    ("Tuntematon sotilas", "Linna, Väinö", 1954, "Book", Material.BOOK, ("sota", "romaanit")),
    ("Seitsemän veljestä", "Kivi, Aleksis", 1870, "Book", Material.BOOK, ("klassikot",)),
    ("Sinuhe egyptiläinen", "Waltari, Mika", 1945, "Book", Material.BOOK, ("historialliset romaanit",)),
    ("Puhdistus", "Oksanen, Sofi", 2008, "Book", Material.BOOK, ("Viro", "romaanit")),
    ("Muumipeikko ja pyrstötähti", "Jansson, Tove", 1946, "Book", Material.CHILDREN, ("lastenkirjallisuus",)),
    ("Risto Räppääjä ja nuhapumppu", "Toivonen, Sinikka", 2003, "Book", Material.CHILDREN, ("lastenkirjallisuus",)),
    ("Hytti nro 6", "Liksom, Rosa", 2011, "Book", Material.QUICK_LOAN, ("junamatkat",)),
    ("Kätilö", "Katja Kettu", 2011, "Book", Material.BOOK, ("Lappi", "sota")),
    ("Lumikko ja yhdeksän muuta", "Vähämäki, Pasi", 2006, "Book", Material.BOOK, ("romaanit",)),
    ("Data Science from Scratch", "Grus, Joel", 2019, "Book", Material.BOOK, ("data science", "Python")),
    ("Introduction to Algorithms", "Cormen, Thomas H.", 2022, "Book", Material.BOOK, ("algorithms",)),
    ("Structure and Interpretation of Computer Programs", "Abelson, Harold", 1996, "Book", Material.BOOK, ("programming",)),
    ("The Pragmatic Programmer", "Thomas, David", 2019, "Book", Material.BOOK, ("programming",)),
    ("Designing Data-Intensive Applications", "Kleppmann, Martin", 2017, "Book", Material.BOOK, ("databases",)),
    ("Suomen historia", "Meinander, Henrik", 2006, "Book", Material.BOOK, ("Suomi", "historia")),
    ("Sapiens: ihmisen lyhyt historia", "Harari, Yuval Noah", 2016, "Book", Material.BOOK, ("historia",)),
    ("Tove Jansson: tee työtä ja rakasta", "Westin, Boel", 2008, "Book", Material.BOOK, ("elämäkerrat",)),
    ("Aku Ankka 2025:12", "Disney", 2025, "Journal", Material.MAGAZINE, ("sarjakuvat",)),
    ("Tiede 2025:4", "Sanoma", 2025, "Journal", Material.MAGAZINE, ("tiede",)),
    ("Helsingin Sanomat 1.3.2025", "Sanoma", 2025, "Journal", Material.NEWSPAPER, ("sanomalehdet",)),
    ("Looming 2024 (köide)", "Eesti Kirjanike Liit", 2024, "Journal", Material.BOUND_MAGAZINE, ("kirjandus",)),
    ("Kalevala", "Lönnrot, Elias", 1849, "Book", Material.BOOK, ("kansanrunous",)),
    ("Kalevipoeg", "Kreutzwald, Friedrich Reinhold", 1862, "Book", Material.BOOK, ("eepos",)),
    ("Tõde ja õigus I", "Tammsaare, A. H.", 1926, "Book", Material.BOOK, ("romaanid",)),
    ("Rehepapp ehk November", "Kivirähk, Andrus", 2000, "Book", Material.BOOK, ("romaanid",)),
    ("Mees, kes teadis ussisõnu", "Kivirähk, Andrus", 2007, "Book", Material.BOOK, ("romaanid",)),
    ("Sibelius: Sinfoniat 1-7", "Sibelius, Jean", 2015, "Sound", Material.AUDIOVISUAL, ("sinfoniat",)),
    ("Tuntematon sotilas (DVD)", "Louhimies, Aku", 2017, "Video", Material.AUDIOVISUAL, ("elokuvat",)),
    ("Kummeli: Kultakuume (DVD)", "Kummeli", 1997, "Video", Material.AUDIOVISUAL, ("elokuvat",)),
    ("Mielensäpahoittaja", "Kyrö, Tuomas", 2010, "Book", Material.BOOK, ("huumori",)),
    ("Oneiron", "Krohn, Leena", 2014, "Book", Material.BOOK, ("romaanit",)),
    ("Nälkävuosi", "Hotakainen, Kari", 2011, "Book", Material.QUICK_LOAN, ("historia",)),
    ("Python Crash Course", "Matthes, Eric", 2023, "Book", Material.BOOK, ("Python", "programming")),
    ("Pikku Myy ja hassut hatut", "Jansson, Tove", 2019, "Book", Material.CHILDREN, ("lastenkirjallisuus",)),
)

_WORDS = ("talvi", "meri", "kirja", "valo", "tie", "kivi", "lintu", "metsä", "järvi", "tähti",
          "aika", "kaupunki", "sydän", "unelma", "ranta", "yö")


def record_id(view: str, n: int) -> str:
    """The record id as the view shows it: ``<datasource>.<local id>`` on Finna, ``b…`` on
    WebPAC, an Alma MMS id on Primo VE (Tampere's end in ``5973``)."""
    if view == "tallinn":
        return f"b{1000000 + n * 13:07d}"
    if view == "tuni":
        return f"99{11130000 + n * 7}05973"
    base = {"heili": 100000, "tuni": 9910000, "helmet": 1200000}.get(view, 100000)
    return f"{view}.{base + n * 7}"


def item_id(view: str, n: int) -> str:
    if view == "tuni":
        return f"23{5000000 + n}0005973"  # an Alma item PID
    return f"i{2000000 + n:07d}" if view == "tallinn" else f"{5000000 + n}"


def _material_for(view: str, material: Material) -> Material:
    """Fold materials a view's rules do not tell apart into a plain book."""
    from .rules import sites

    if material in sites()[view].rules.materials:
        return material
    return Material.BOOK


class _Builder:
    def __init__(self, lib: Library, rng: random.Random):
        self.lib = lib
        self.rng = rng
        self.n_items = 0
        self.by_material: dict[Material, list[str]] = {}

    def title(self, n: int, spec) -> Title:
        name, author, year, fmt, material, subjects = spec
        material = _material_for(self.lib.view, material)
        rid = record_id(self.lib.view, n)
        t = self.lib.add_title(Title(rid, name, author, year, fmt, material,
                                     "est" if self.lib.view == "tallinn" else "fin",
                                     list(subjects), f"978951{n:07d}"))
        for _ in range(3):
            self.item(t)
        self.by_material.setdefault(material, []).append(rid)
        return t

    def item(self, t: Title) -> Item:
        self.n_items += 1
        n = self.n_items
        loc = self.lib.pickup_locations[n % len(self.lib.pickup_locations)].code
        call = f"{84.2 if t.material is not Material.CHILDREN else 85.1} {t.author[:3].upper()}"
        return self.lib.add_item(Item(item_id(self.lib.view, n), t.record_id,
                                      f"{self.lib.view[:1].upper()}{4600000000 + n}",
                                      call, t.material, loc))

    def free_item(self, record: str) -> str:
        for item in self.lib.items_of(record):
            if self.lib.item_on_loan(item.item_id) is None:
                return item.item_id
        return self.item(self.lib.titles[record]).item_id

    def lend(self, card: str, record: str, *, due_in: int, renewals: int = 0):
        today = self.lib.today()
        material = self.lib.titles[record].material
        period = self.lib.loan_period(material)
        due = today + timedelta(days=due_in)
        checkout = due - timedelta(days=period)
        return self.lib.add_loan(card, self.free_item(record), checkout=checkout, due=due,
                                 renewals=renewals)


def build_library(view: str, clock: Clock | None = None, *, seed: int = 0,
                  big_loans: int = 0) -> Library:
    """A fresh library for one view with the demo accounts and catalogue."""
    clock = clock or Clock()
    lib = Library(view, clock=clock, pickup_locations=PICKUP_LOCATIONS[view])
    rng = random.Random(f"{view}:{seed}")
    b = _Builder(lib, rng)
    for n, spec in enumerate(CATALOGUE, start=1):
        b.title(n, spec)
    # Extra generated titles: what --seed changes.
    for k in range(12):
        n = len(CATALOGUE) + 1 + k
        words = rng.sample(_WORDS, 2)
        b.title(n, (f"{words[0].capitalize()} ja {words[1]}", f"Kirjoittaja, {rng.choice('ABCDEFG')}.",
                    rng.randint(1990, 2025), "Book", Material.BOOK, (words[0],)))
    for p in DEMO_PATRONS:
        if p.view == view:
            email = None if "no e-mail" in p.note else f"{p.name.split()[0].lower()}@example.org"
            lib.add_patron(Patron(p.card, p.pin, p.name, email,
                                  "et" if view == "tallinn" else "fi",
                                  patron_id=f"{1000000 + int(p.card[-4:]):07d}",
                                  home_location=lib.pickup_locations[0].code))
    for k in range(1, 6):
        lib.add_patron(Patron(f"bg{k}", "", f"Background patron {k}", login=False,
                              patron_id=f"{2000000 + k:07d}"))
    _accounts(view, lib, b, list(lib.titles), rng)
    if big_loans:
        add_big_account(lib, big_loans)
    lib.revision = 0
    return lib


def add_big_account(lib: Library, n: int, card: str = BIG_CARD, pin: str = BIG_PIN) -> Patron:
    """A patron with ``n`` loans spread over the coming weeks (for paging tests)."""
    patron = lib.add_patron(Patron(card, pin, "Iso Lainaaja", "iso@example.org",
                                   patron_id="1999999", home_location=lib.pickup_locations[0].code))
    b = _Builder(lib, random.Random(n))
    b.n_items = len(lib.items)
    books = [r for r, t in lib.titles.items() if t.material is Material.BOOK]
    for k in range(n):
        record = books[k % len(books)]
        b.lend(card, record, due_in=1 + k % 27)
    return patron


def _accounts(view: str, lib: Library, b: _Builder, records: list[str], rng: random.Random) -> None:
    today = lib.today()
    first = [p for p in DEMO_PATRONS if p.view == view]
    main = first[0].card
    r = {spec[0]: records[i] for i, spec in enumerate(CATALOGUE)}
    rules = lib.rules
    limit = rules.renewal_limit or 0

    # Loans of the main patron: every state at once.
    b.lend(main, r["Tuntematon sotilas"], due_in=20)                         # ok
    b.lend(main, r["Kalevala"], due_in=1, renewals=1)                         # due soon
    b.lend(main, r["Puhdistus"], due_in=-6)                                   # overdue, fee accrues
    reserved = r["Sinuhe egyptiläinen"]
    b.lend(main, reserved, due_in=9)                                          # reserved by another
    lib.add_hold("bg1", reserved, lib.pickup_locations[1].code, created=today - timedelta(days=3))
    if limit:
        b.lend(main, r["The Pragmatic Programmer"], due_in=12, renewals=limit)  # at its limit
    if view != "tuni":
        b.lend(main, r["Muumipeikko ja pyrstötähti"], due_in=-4)              # children's, overdue
    if view == "heili":
        b.lend(main, r["Hytti nro 6"], due_in=7)                              # quick loan
    if view == "tallinn":
        b.lend(main, r["Tiede 2025:4"], due_in=5)                             # magazine, never renewed
        b.lend(main, r["Sibelius: Sinfoniat 1-7"], due_in=3, renewals=1)      # audiovisual
        b.lend(main, r["Looming 2024 (köide)"], due_in=15)                    # bound magazine
        b.lend(main, r["Helsingin Sanomat 1.3.2025"], due_in=2)               # newspaper

    # Holds: waiting behind others, in transit, ready.
    pick = lib.pickup_locations
    queued = r["Designing Data-Intensive Applications"]
    lib.add_hold("bg2", queued, pick[0].code, created=today - timedelta(days=30))
    lib.add_hold("bg3", queued, pick[1].code, created=today - timedelta(days=20))
    lib.add_hold(main, queued, pick[0].code, created=today - timedelta(days=10))
    lib.add_hold("bg4", queued, pick[2].code, created=today - timedelta(days=2))
    lib.add_hold(main, r["Oneiron"], pick[1].code, created=today - timedelta(days=40),
                 status=HoldStatus.IN_TRANSIT)
    lib.add_hold(main, r["Mielensäpahoittaja"], pick[0].code, created=today - timedelta(days=25),
                 status=HoldStatus.READY, ready_date=today - timedelta(days=1))
    lib.add_hold(main, r["Suomen historia"], pick[2].code, created=today - timedelta(days=1))

    # Fees.
    old = today - timedelta(days=45)
    if view == "heili":
        lib.add_fee(main, FeeType.OVERDUE, 240, created=old, record_id=r["Kätilö"],
                    description="Myöhästymismaksu")
        lib.add_fee(main, FeeType.UNCOLLECTED_HOLD, rules.uncollected_hold_fee_cents or 0,
                    created=old, record_id=r["Oneiron"], description="Noutamaton varaus")
        c2, c3 = first[1].card, first[2].card
        b.lend(c2, r["Seitsemän veljestä"], due_in=10)
        lib.add_fee(c2, FeeType.OVERDUE, 40, created=old, record_id=r["Kalevala"],
                    description="Myöhästymismaksu")
        b.lend(c3, r["Kummeli: Kultakuume (DVD)"], due_in=4)
        lib.add_fee(c3, FeeType.OVERDUE, 200, created=old, record_id=r["Oneiron"],
                    description="Myöhästymismaksu")
    elif view == "tuni":
        lib.add_fee(main, FeeType.OVERDUE, 350, created=old, record_id=r["Introduction to Algorithms"],
                    description="Overdue fine")
        lib.add_fee(main, FeeType.REPLACEMENT, 580, created=old,
                    record_id=r["Structure and Interpretation of Computer Programs"],
                    description="Lost item replacement")
        c2, c3 = first[1].card, first[2].card
        b.lend(c2, r["Python Crash Course"], due_in=14)
        lib.add_fee(c2, FeeType.OVERDUE, 450, created=old, record_id=r["Data Science from Scratch"],
                    description="Overdue fine")
        lib.add_fee(c3, FeeType.UNCOLLECTED_HOLD, rules.uncollected_hold_fee_cents or 0,
                    created=old, record_id=r["Kalevala"], description="Uncollected hold")
    elif view == "helmet":
        lib.add_fee(main, FeeType.OVERDUE, 360, created=old, record_id=r["Kätilö"],
                    description="Myöhästymismaksu")
        lib.add_fee(main, FeeType.NOTICE, 200, created=old, description="Muistutusmaksu")
        c2 = first[1].card
        b.lend(c2, r["Oneiron"], due_in=-35)
        b.lend(c2, r["Kalevala"], due_in=5)
        lib.add_fee(c2, FeeType.OVERDUE, 50, created=old, record_id=r["Kätilö"],
                    description="Myöhästymismaksu")
    elif view == "tallinn":
        # The loan it was charged on, returned 30 days late at 0.03 €/day (the page shows its dates).
        lib.add_fee(main, FeeType.OVERDUE, 90, created=old, record_id=r["Kalevipoeg"],
                    description="Viivistasu", checkout_date=old - timedelta(days=58),
                    due_date=old - timedelta(days=30))
        c2 = first[1].card
        b.lend(c2, r["Rehepapp ehk November"], due_in=12)
        b.lend(c2, r["Mees, kes teadis ussisõnu"], due_in=19)

    # Background patrons queue for some of the extra titles (what --seed varies).
    extras = records[len(CATALOGUE):] or records
    for k in range(1, 6):
        for record in rng.sample(extras, 2):
            if not any(h.card == f"bg{k}" and h.record_id == record for h in lib.holds.values()):
                lib.add_hold(f"bg{k}", record, rng.choice(pick).code,
                             created=today - timedelta(days=rng.randint(1, 60)))


def demo_patrons(view: str | None = None) -> list[DemoPatron]:
    return [p for p in DEMO_PATRONS if view is None or p.view == view]
