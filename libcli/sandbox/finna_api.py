"""The Finna public search API (api.finna.fi ``/v1/search``, ``/v1/record``;
also under ``/api/v1/``) over one view's catalogue, per reference §7.

Like VuFind's SearchApiController, the envelope carries ``records`` only
when there are any and ``facets`` only when facets were asked for. Filters
are ``field:"value"`` (AND) or ``~field:"value"`` (OR within the field);
building and format values are hierarchical (``0/Helmet/``,
``1/Helmet/h00/``). An unknown filter field is "Invalid search" (400), as
Solr's undefined-field error surfaces there.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .app import FaceContext
from .circulation import Title
from .finna_i18n import FORMATS, LANGUAGES

DEFAULT_FIELDS = ("id", "title", "buildings", "formats", "nonPresenterAuthors", "presenters",
                  "languages", "subjects", "series", "images", "imageRights", "onlineUrls",
                  "urls", "rating")
FILTER_FIELDS = {"building", "format", "online_boolean", "language", "main_date_str",
                 "author_facet", "topic_facet"}
_LANG_INDEX = {"fi": 0, "sv": 1, "en-gb": 2}
_FILTER = re.compile(r'^(~?)([A-Za-z_]+):"?(.*?)"?$')


class SearchApi:
    def __init__(self, ctx: FaceContext):
        self.ctx = ctx
        self.lib = ctx.library
        building = ctx.consortium.building or f"0/{ctx.view.capitalize()}/"
        self.org = building.strip("/").split("/", 1)[1]
        self.building = building

    # --- record fields ---------------------------------------------------

    def _buildings(self, t: Title, lang: str) -> list[dict[str, str]]:
        out = [{"value": self.building, "translated": self._org_name(lang)}]
        seen = set()
        for item in self.lib.items_of(t.record_id):
            if item.location in seen:
                continue
            seen.add(item.location)
            loc = self.lib.pickup_location(item.location)
            out.append({"value": f"1/{self.org}/{item.location}/",
                        "translated": loc.name if loc else item.location})
        return out

    def _org_name(self, lang: str) -> str:
        from .finna_face import VIEWS

        conf = VIEWS.get(self.ctx.view)
        return self.ctx.consortium.name if lang == "en-gb" or conf is None else conf[0]

    def _formats(self, t: Title, lang: str) -> list[dict[str, str]]:
        name = FORMATS.get(t.format, (t.format,) * 3)[_LANG_INDEX.get(lang, 0)]
        return [{"value": f"0/{t.format}/", "translated": name},
                {"value": f"1/{t.format}/{t.format}/", "translated": name}]

    def record(self, t: Title, lang: str, fields: list[str]) -> dict[str, Any]:
        values = {
            "id": lambda: t.record_id,
            "title": lambda: t.title,
            "buildings": lambda: self._buildings(t, lang),
            "formats": lambda: self._formats(t, lang),
            "nonPresenterAuthors": lambda: [{"name": t.author, "role": "", "date": ""}]
            if t.author else [],
            "presenters": lambda: {"presenters": [], "details": []},
            "languages": lambda: [t.language],
            "subjects": lambda: [[s] for s in t.subjects],
            "series": lambda: [],
            "images": lambda: [],
            "imageRights": lambda: [],
            "onlineUrls": lambda: [],
            "urls": lambda: [],
            "rating": lambda: {"average": 0, "count": 0},
            "year": lambda: str(t.year) if t.year else None,
            "isbns": lambda: [t.isbn] if t.isbn else [],
            "recordPage": lambda: f"/Record/{t.record_id}",
        }
        out = {}
        for name in fields:
            if name in values:
                value = values[name]()
                if value not in (None, [], {}):
                    out[name] = value
        return out

    def _facet_values(self, t: Title, facet: str) -> list[str]:
        if facet == "building":
            return [b["value"] for b in self._buildings(t, "fi")]
        if facet == "format":
            return [f["value"] for f in self._formats(t, "fi")]
        if facet == "language":
            return [t.language]
        if facet == "main_date_str":
            return [str(t.year)] if t.year else []
        if facet == "author_facet":
            return [t.author] if t.author else []
        if facet == "topic_facet":
            return list(t.subjects)
        if facet == "online_boolean":
            return ["0"]
        return []

    # --- endpoints -------------------------------------------------------

    async def search(self, request: Request) -> Response:
        params = await self._params(request)
        lang = params.get("lng", [self.ctx.options.language])[0]
        lang = lang if lang in LANGUAGES else "fi"
        try:
            limit = int(params.get("limit", ["20"])[0])
        except ValueError:
            limit = -1
        if not 0 <= limit <= 100:
            return self._error(params, "Invalid limit")
        try:
            page = int(params.get("page", ["1"])[0])
        except ValueError:
            page = 0
        if page < 1 or (page - 1) * limit >= 100000:
            return self._error(params, "Invalid page")
        filters: dict[str, list[str]] = {}
        ors: dict[str, list[str]] = {}
        for raw in params.get("filter[]", []) + params.get("filter", []):
            m = _FILTER.match(raw.strip())
            if not m or m[2] not in FILTER_FIELDS:
                return self._error(params, "Invalid search")
            (ors if m[1] else filters).setdefault(m[2], []).append(m[3])
        titles = self.lib.search(params.get("lookfor", [""])[0],
                                 params.get("type", ["AllFields"])[0])
        titles = [t for t in titles if self._matches(t, filters, ors)]
        sort = params.get("sort", ["relevance,id asc"])[0]
        if sort.startswith("main_date_str"):
            titles.sort(key=lambda t: (t.year or 0, t.record_id), reverse=sort.endswith("desc"))
        elif sort == "title":
            titles.sort(key=lambda t: t.title.lower())
        elif sort == "author":
            titles.sort(key=lambda t: t.author.lower())
        fields = params.get("field[]") or list(DEFAULT_FIELDS)
        shown = titles[(page - 1) * limit: page * limit]
        body: dict[str, Any] = {"resultCount": len(titles)}
        if shown:
            body["records"] = [self.record(t, lang, fields) for t in shown]
        facets = params.get("facet[]", [])
        if facets:
            body["facets"] = {f: self._facet(titles, f, filters, ors, params) for f in facets}
        body["status"] = "OK"
        return self._json(params, body)

    async def record_endpoint(self, request: Request) -> Response:
        params = await self._params(request)
        lang = params.get("lng", ["fi"])[0]
        ids = params.get("id[]", []) + params.get("id", [])
        if not ids:
            return self._error(params, "Missing id")
        fields = params.get("field[]") or list(DEFAULT_FIELDS)
        records = [self.record(self.lib.titles[i], lang, fields) for i in ids if i in self.lib.titles]
        body: dict[str, Any] = {"resultCount": len(records)}
        if records:
            body["records"] = records
        body["status"] = "OK"
        return self._json(params, body)

    # --- helpers ---------------------------------------------------------

    def _matches(self, t: Title, filters, ors) -> bool:
        for name, wanted in filters.items():
            values = self._facet_values(t, name)
            if not all(w in values for w in wanted):
                return False
        for name, wanted in ors.items():
            values = self._facet_values(t, name)
            if not any(w in values for w in wanted):
                return False
        return True

    def _facet(self, titles, facet, filters, ors, params) -> list[dict[str, Any]]:
        counts: dict[str, int] = {}
        for t in titles:
            for v in set(self._facet_values(t, facet)):
                counts[v] = counts.get(v, 0) + 1
        applied = set(filters.get(facet, [])) | set(ors.get(facet, []))
        lang = params.get("lng", ["fi"])[0]

        def entry(value: str, count: int) -> dict[str, Any]:
            base = {k: v for k, v in params.items() if k not in ("facet[]", "page")}
            query = [(k, v) for k, vs in base.items() for v in vs]
            query.append(("filter[]", f'{facet}:"{value}"'))
            translated = value
            if facet == "building":
                translated = (self._org_name(lang) if value == self.building else next(
                    (p.name for p in self.lib.pickup_locations if value.endswith(f"/{p.code}/")),
                    value))
            elif facet == "format":
                fmt = value.strip("/").split("/")[-1]
                translated = FORMATS.get(fmt, (fmt,) * 3)[_LANG_INDEX.get(lang, 0)]
            return {"value": value, "translated": translated, "count": count,
                    "href": "?" + urlencode(query), "isApplied": value in applied}

        if facet in ("building", "format"):
            top = [v for v in counts if v.startswith("0/")]
            out = []
            for v in sorted(top, key=lambda v: -counts[v]):
                e = entry(v, counts[v])
                prefix = "1/" + v[2:]
                e["children"] = [entry(c, counts[c]) for c in sorted(counts)
                                 if c.startswith(prefix)]
                out.append(e)
            return out
        return [entry(v, c) for v, c in sorted(counts.items(), key=lambda kv: -kv[1])]

    async def _params(self, request: Request) -> dict[str, list[str]]:
        params: dict[str, list[str]] = {}
        for k, v in request.query_params.multi_items():
            params.setdefault(k, []).append(v)
        if request.method == "POST":
            form = await request.form()
            for k, v in form.multi_items():
                params.setdefault(k, []).append(str(v))
        return params

    def _json(self, params, body: dict[str, Any], status: int = 200) -> Response:
        pretty = params.get("prettyPrint", ["0"])[0] in ("1", "true")
        text = json.dumps(body, ensure_ascii=False, indent=2 if pretty else None)
        callback = params.get("callback", [None])[0]
        if callback and re.fullmatch(r"[A-Za-z_$][\w$.]*", callback):
            return Response(f"{callback}({text});", status_code=status,
                            media_type="application/javascript")
        return Response(text, status_code=status, media_type="application/json")

    def _error(self, params, message: str, status: int = 400) -> Response:
        return self._json(params, {"status": "ERROR", "statusMessage": message}, status)


def api_routes(ctx: FaceContext) -> list[Route]:
    api = SearchApi(ctx)
    both = ["GET", "POST"]
    return [
        Route("/api/v1/search", api.search, methods=both),
        Route("/v1/search", api.search, methods=both),
        Route("/api/v1/record", api.record_endpoint, methods=both),
        Route("/v1/record", api.record_endpoint, methods=both),
    ]
