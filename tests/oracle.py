"""An independent, deliberately plain-Python reading of the visit-type rule (issue #2, item 5).

Used to cross-check the Polars implementation on the sample and on random inputs. It shares no
code with transforms/.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def classify_oracle(
    visits: list[dict],
    accounts: list[dict],
    deals: list[dict],
    timezone: str,
    reengage_after_days: int | None,
) -> dict[str, dict]:
    """visits: visit_id, account_id, visit_start (aware datetime), status.
    accounts: account_id, customer_since (date|None). deals: account_id, is_won, close_date."""
    zone = ZoneInfo(timezone)
    since: dict[str, date] = {}
    for a in accounts:
        if a.get("customer_since"):
            since[a["account_id"]] = min(since.get(a["account_id"], a["customer_since"]), a["customer_since"])
    for d in deals:
        if d.get("is_won") and d.get("close_date"):
            since[d["account_id"]] = min(since.get(d["account_id"], d["close_date"]), d["close_date"])

    out: dict[str, dict] = {}
    for v in visits:
        visit_date = v["visit_start"].astimezone(zone).date()
        earlier = [
            w
            for w in visits
            if w["account_id"] == v["account_id"]
            and w["status"] == "completed"
            and (w["visit_start"], w["visit_id"]) < (v["visit_start"], v["visit_id"])
        ]
        latest = max(earlier, key=lambda w: (w["visit_start"], w["visit_id"])) if earlier else None
        days = (visit_date - latest["visit_start"].astimezone(zone).date()).days if latest else None
        visit_type = None
        if v["status"] == "completed":
            cs = since.get(v["account_id"])
            if cs is not None and cs < visit_date:
                visit_type = "existing_customer"
            elif not earlier or (reengage_after_days is not None and days > reengage_after_days):
                visit_type = "new_prospect"
            else:
                visit_type = "hot_prospect"
        out[v["visit_id"]] = {
            "visit_type": visit_type,
            "visit_date": visit_date,
            "prior_visit_count": len(earlier),
            "days_since_prior_visit": days,
            "customer_since": since.get(v["account_id"]),
        }
    return out


def local(text: str, timezone: str) -> datetime:
    """'YYYY-MM-DD HH:MM' wall time in `timezone` → aware datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(timezone))


def next_visit_oracle(visits: list[dict], timezone: str) -> dict[str, date | None]:
    """Per visit_id: the local date of the account's next completed visit after it (rule-7 order)."""
    zone = ZoneInfo(timezone)
    out: dict[str, date | None] = {}
    for v in visits:
        later = [
            w for w in visits
            if w["account_id"] == v["account_id"] and w["status"] == "completed"
            and (w["visit_start"], w["visit_id"]) > (v["visit_start"], v["visit_id"])
        ]
        first = min(later, key=lambda w: (w["visit_start"], w["visit_id"])) if later else None
        out[v["visit_id"]] = first["visit_start"].astimezone(zone).date() if first else None
    return out
