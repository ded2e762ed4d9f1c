"""``whistle rules show``: the registry and the compiled rules, as a tree or as JSON."""

from __future__ import annotations

from typing import Any

from engine.domain.calendar import Limit
from engine.domain.ruleset import Ruleset, Step


def _limit(limit: Limit | None) -> str | None:
    return None if limit is None else str(limit)


def _escalate_on(step: Step) -> list[str]:
    on = (
        ("respond", step.escalate_on_respond_overdue),
        ("resolve", step.escalate_on_resolve_overdue),
    )
    return [kind for kind, yes in on if yes]


def show(rules: Ruleset) -> dict[str, Any]:
    reg = rules.registry
    streets = []
    for street in reg.streets.values():
        villages = []
        for v in reg.villages.values():
            if v.street != street.id:
                continue
            grids = [{"id": g.id, "name": g.name} for g in reg.grids.values() if g.village == v.id]
            villages.append({"id": v.id, "name": v.name, "kind": v.kind, "sample": v.sample,
                             "grids": grids})
        streets.append({"id": street.id, "name": street.name, "kind": street.kind,
                        "villages": villages})
    return {
        "version": rules.version,
        "org": {
            "streets": streets,
            "departments": [{"id": d.id, "name": d.name} for d in reg.departments.values()],
        },
        "calendars": [
            {"name": c.name, "always": c.always, "timezone": c.timezone,
             "hours": [f"{a:%H:%M}-{b:%H:%M}" for a, b in c.hours],
             "known_until": c.known_until.isoformat() if c.known_until else None}
            for c in rules.calendars.values()
        ],
        "categories": dict(rules.categories),
        "routes": [
            {"category": r.category, "lead": r.lead, "co": list(r.co), "report": str(r.report),
             "resolve": str(r.resolve), "progress_every": _limit(r.progress_every)}
            for r in rules.routes.values()
        ],
        "rules": [
            {"id": r.id, "description": r.description, "source": r.source,
             "match": [c.describe() for c in r.match], "calendar": r.calendar,
             "warn_at": r.warn_at,
             "closing": {"rating_window": str(r.closing.rating_window),
                         "max_reopens": r.closing.max_reopens},
             "ladder": [
                 {"level": s.level, "respond": _limit(s.respond),
                  "resolve": _limit(s.resolve),
                  "escalate_on": _escalate_on(s)}
                 for s in r.ladder
             ]}
            for r in rules.rules
        ],
        "claims": {"expire_after": str(rules.claims.expire_after),
                   "by_rule": {k: str(v) for k, v in rules.claims.by_rule.items()},
                   "max_active": rules.claims.max_active},
        "points": [
            {"id": p.id, "role": p.role, "on": p.on, "points": p.points, "kinds": list(p.kinds),
             "categories": list(p.categories), "severities": list(p.severities)}
            for p in rules.points
        ],
    }


def render_show(data: dict[str, Any]) -> str:
    lines = [f"rules version {data['version']}", "", "org:"]
    for s in data["org"]["streets"]:
        grids = sum(len(v["grids"]) for v in s["villages"])
        lines.append(f"  {s['id']} {s['name']} ({s['kind']}; {len(s['villages'])} villages, "
                     f"{grids} grids)")
        for v in s["villages"]:
            sample = ", sample" if v["sample"] else ""
            gids = " ".join(g["id"] for g in v["grids"])
            lines.append(f"    {v['id']} {v['name']} ({v['kind']}{sample}): {gids}")
    lines.append("  departments:")
    for d in data["org"]["departments"]:
        lines.append(f"    {d['id']} {d['name']}")
    lines += ["", "calendars:"]
    for c in data["calendars"]:
        kind = "24x7" if c["always"] else f"{' '.join(c['hours'])}, holidays until " \
            f"{c['known_until']}"
        lines.append(f"  {c['name']}: {c['timezone']}, {kind}")
    lines += ["", "routes:"]
    for r in data["routes"]:
        co = f" + {', '.join(r['co'])}" if r["co"] else ""
        progress = f", progress every {r['progress_every']}" if r["progress_every"] else ""
        lines.append(f"  {r['category']}: lead {r['lead']}{co}; report {r['report']}, "
                     f"resolve {r['resolve']}{progress}")
    lines += ["", "rules (first match wins):"]
    for r in data["rules"]:
        match = " AND ".join(r["match"]) or "(catch-all)"
        lines.append(f"  - {r['id']}  [{r['source']}]  match {match}")
        lines.append(f"      calendar {r['calendar']}, warn at {r['warn_at']}, rating window "
                     f"{r['closing']['rating_window']}, max reopens {r['closing']['max_reopens']}")
        for s in r["ladder"]:
            parts = [f"respond {s['respond']}" if s["respond"] else None,
                     f"resolve {s['resolve']}" if s["resolve"] else "limits from route",
                     f"escalate on {'/'.join(s['escalate_on']) or 'nothing'}"]
            lines.append(f"      -> {s['level']}: {', '.join(p for p in parts if p)}")
    c = data["claims"]
    by_rule = "".join(f", {k}: {v}" for k, v in c["by_rule"].items())
    lines += ["", f"claims: expire after {c['expire_after']}{by_rule}; at most "
                  f"{c['max_active']} held at once"]
    if data["points"]:
        lines += ["", "points (first match per person and timing):"]
    for p in data["points"]:
        filters = [f"{name} {'|'.join(p[name])}" for name in ("kinds", "categories", "severities")
                   if p[name]]
        lines.append(f"  - {p['id']}: {p['points']} to the {p['role']} on {p['on']}"
                     + (f" ({', '.join(filters)})" if filters else ""))
    return "\n".join(lines)
