"""Generate the bundled sample: a Thai/English B2B sales team's visit export over 18 months.

Seeded and deterministic: ``python data/sample/make_sample.py`` rewrites the CSV files beside it
byte-for-byte. The shapes imitate a CRM export (its own column names, mixed status spellings,
a free-text note column the config does not map, reps' own visit-type labels).
"""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta
from pathlib import Path

SEED = 20260101
HERE = Path(__file__).resolve().parent
START = date(2025, 1, 1)
MONTHS = 18
END = date(2026, 6, 30)

TEAMS = {
    "Bangkok Enterprise": "Central",
    "Northern SME": "North",
    "Eastern Industrial": "East",
}
REPS = [
    ("R01", "สมชาย ใจดี", "Bangkok Enterprise"),
    ("R02", "Anna Lee", "Bangkok Enterprise"),
    ("R03", "วิภาวรรณ ศรีสุข", "Bangkok Enterprise"),
    ("R04", "ณัฐพล แก้วมณี", "Northern SME"),
    ("R05", "David Chen", "Northern SME"),
    ("R06", "กมลชนก พรหมมา", "Northern SME"),
    ("R07", "ธนากร วงศ์ใหญ่", "Eastern Industrial"),
    ("R08", "Priya Nair", "Eastern Industrial"),
    ("R09", "อรุณี ทองดี", "Eastern Industrial"),
]
THAI_STEMS = ["สยาม", "ไทยรุ่งเรือง", "เจริญ", "ศรีนคร", "บูรพา", "ล้านนา", "อุดม", "มั่นคง", "รุ่งโรจน์", "ทองคำ"]
THAI_KINDS = ["การค้า", "อุตสาหกรรม", "ฟู้ดส์", "ก่อสร้าง", "เทคโนโลยี", "พลาสติก"]
EN_STEMS = ["Siam", "Chao Phraya", "Lotus", "Orchid", "Andaman", "Mekong", "Golden", "Eastern", "Northstar", "Bluewave"]
EN_KINDS = ["Trading", "Logistics", "Foods", "Packaging", "Engineering", "Retail"]
SEGMENTS = ["SME", "Mid-Market", "Enterprise"]
STATUS_SPELLINGS = ["Held", "Completed", "Done", "", "Held", "Completed"]
OTHER_STATUS = ["Canceled", "Not Held", "No Show", "Cancelled"]
CHANNELS = ["onsite", "onsite", "onsite", "video", "phone"]
NOTES = ["ลูกค้าสนใจสินค้าใหม่ – ขอใบเสนอราคา", "follow up on quotation", "นัดสาธิตสินค้า", "renewal talk", ""]
LABELS = ["New Prospect Visit", "Hot Prospect Visit", "Existing Customer Visit", "ลูกค้าใหม่", "ลูกค้าเก่า", ""]


def _accounts(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for i in range(1, 241):
        if rng.random() < 0.5:
            name = f"บริษัท {rng.choice(THAI_STEMS)}{rng.choice(THAI_KINDS)} จำกัด"
        else:
            name = f"{rng.choice(EN_STEMS)} {rng.choice(EN_KINDS)} Co., Ltd."
        team = list(TEAMS)[i % 3]
        # a third of the accounts were customers before the window starts
        since = ""
        if i % 3 == 0:
            since = (date(2019, 1, 1) + timedelta(days=rng.randrange(0, 2000))).isoformat()
        rows.append(
            {
                "Account Code": f"A{i:04d}",
                "Account Name": name,
                "Customer Since": since,
                "Region": TEAMS[team],
                "Segment": rng.choice(SEGMENTS),
            }
        )
    return rows


def main() -> None:
    rng = random.Random(SEED)
    accounts = _accounts(rng)
    team_reps = {team: [r for r in REPS if r[2] == team] for team in TEAMS}
    visits, deals = [], []
    visit_no = deal_no = 0
    for index, account in enumerate(accounts):
        team = list(TEAMS)[(index + 1) % 3]
        rep = rng.choice(team_reps[team])
        existing = bool(account["Customer Since"])
        n_visits = rng.randint(4, 22) if existing else rng.randint(1, 12)
        first = START + timedelta(days=rng.randrange(0, 480))
        days = sorted(first + timedelta(days=rng.randrange(0, max(1, (END - first).days))) for _ in range(n_visits))
        days[0] = first
        won_on = None
        if not existing and rng.random() < 0.35 and len(days) > 2:
            won_on = days[rng.randrange(1, len(days))]
        for day in days:
            visit_no += 1
            at = datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.choice([0, 15, 30, 45]))
            status = rng.choice(STATUS_SPELLINGS) if rng.random() < 0.9 else rng.choice(OTHER_STATUS)
            if day > date(2026, 6, 20):
                status = "Scheduled"
            visits.append(
                {
                    "Visit ID": f"V{visit_no:06d}",
                    "Sales Rep": rep[0] if rng.random() < 0.92 else rng.choice(REPS)[0],
                    "Account Code": account["Account Code"],
                    "Start Time": at.strftime("%Y-%m-%d %H:%M"),
                    "Status": status,
                    "Visit Type": rng.choice(LABELS),
                    "Channel": rng.choice(CHANNELS),
                    "Duration (min)": str(rng.choice([30, 45, 60, 90])),
                    "Notes": rng.choice(NOTES),
                }
            )
        for _ in range(rng.randint(0, 2)):
            deal_no += 1
            lost_close = (first + timedelta(days=rng.randrange(30, 300))).isoformat()
            deals.append(
                {
                    "Deal ID": f"D{deal_no:05d}",
                    "Account Code": account["Account Code"],
                    "Won": "false",
                    "Close Date": lost_close if rng.random() < 0.7 else "",
                    "Amount (THB)": str(rng.randrange(50, 2000) * 1000),
                }
            )
        if won_on:
            deal_no += 1
            deals.append(
                {
                    "Deal ID": f"D{deal_no:05d}",
                    "Account Code": account["Account Code"],
                    "Won": "true",
                    "Close Date": won_on.isoformat(),
                    "Amount (THB)": str(rng.randrange(100, 5000) * 1000),
                }
            )
    # a few rows a real export would have: no account, an unreadable date
    for row in rng.sample(visits, 4)[:3]:
        row["Account Code"] = ""
    rng.choice(visits)["Start Time"] = "31/02/2026 10:00"
    rng.shuffle(visits)
    reps = [{"Rep ID": r[0], "Name": r[1], "Team": r[2], "Region": TEAMS[r[2]]} for r in REPS]
    _write("accounts.csv", accounts)
    _write("deals.csv", deals)
    _write("reps.csv", reps)
    _write("visits.csv", visits)


def _write(name: str, rows: list[dict[str, str]]) -> None:
    with (HERE / name).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
