"""Sample exports of other products, written by the libraries that write such files:
the csv module (with each product's own encoding, delimiter and preamble), openpyxl for
a workbook, vobject for vCards (vCard 2.1, which phones still write and vobject does
not, as the text a phone writes). Headers are the products' own, in their order.

``build(folder)`` writes them all and returns name to :class:`Sample`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import vobject


@dataclass(frozen=True)
class Sample:
    path: Path
    product: str | None
    people: int


def _csv(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    preamble: str = "",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        f.write(preamble)
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row + [""] * (len(header) - len(row)))
    return path


def _row(header: list[str], **values: str) -> list[str]:
    return [values.get(name, "") for name in header]


GOOGLE = [
    "First Name", "Middle Name", "Last Name", "Phonetic First Name", "Phonetic Middle Name",
    "Phonetic Last Name", "Name Prefix", "Name Suffix", "Nickname", "File As",
    "Organization Name", "Organization Title", "Organization Department", "Birthday",
    "Notes", "Photo", "Labels", "E-mail 1 - Label", "E-mail 1 - Value", "E-mail 2 - Label",
    "E-mail 2 - Value", "Phone 1 - Label", "Phone 1 - Value", "Phone 2 - Label",
    "Phone 2 - Value", "Address 1 - Label", "Address 1 - Formatted", "Address 1 - Street",
    "Address 1 - City", "Address 1 - PO Box", "Address 1 - Region", "Address 1 - Postal Code",
    "Address 1 - Country", "Address 1 - Extended Address", "Website 1 - Label",
    "Website 1 - Value",
]  # fmt: skip
GOOGLE_LEGACY = [
    "Name", "Given Name", "Additional Name", "Family Name", "Yomi Name", "Given Name Yomi",
    "Additional Name Yomi", "Family Name Yomi", "Name Prefix", "Name Suffix", "Initials",
    "Nickname", "Short Name", "Maiden Name", "Birthday", "Gender", "Location",
    "Billing Information", "Directory Server", "Mileage", "Occupation", "Hobby",
    "Sensitivity", "Priority", "Subject", "Notes", "Language", "Photo", "Group Membership",
    "E-mail 1 - Type", "E-mail 1 - Value", "E-mail 2 - Type", "E-mail 2 - Value",
    "Phone 1 - Type", "Phone 1 - Value", "Phone 2 - Type", "Phone 2 - Value",
    "Organization 1 - Type", "Organization 1 - Name", "Organization 1 - Title",
]  # fmt: skip
OUTLOOK = [
    "Title", "First Name", "Middle Name", "Last Name", "Suffix", "Company", "Department",
    "Job Title", "Business Street", "Business City", "Business State", "Business Postal Code",
    "Business Country/Region", "Home Street", "Home City", "Home State", "Home Postal Code",
    "Home Country/Region", "Business Fax", "Business Phone", "Home Phone", "Mobile Phone",
    "Anniversary", "Birthday", "Categories", "E-mail Address", "E-mail Type",
    "E-mail Display Name", "E-mail 2 Address", "Gender", "Notes", "Web Page",
]  # fmt: skip
OUTLOOK_DE = [
    "Anrede", "Vorname", "Weitere Vornamen", "Nachname", "Suffix", "Firma", "Abteilung",
    "Position", "Straße geschäftlich", "Ort geschäftlich", "Region geschäftlich",
    "Postleitzahl geschäftlich", "Land/Region geschäftlich", "Telefon geschäftlich",
    "Mobiltelefon", "Geburtstag", "Kategorien", "E-Mail-Adresse", "E-Mail-Typ",
    "E-Mail: Angezeigter Name", "Geschlecht", "Notizen", "Webseite",
]  # fmt: skip
LINKEDIN = ["First Name", "Last Name", "URL", "Email Address", "Company", "Position",
            "Connected On"]  # fmt: skip
LINKEDIN_PREAMBLE = (
    "Notes:\r\n"
    '"When exporting your connection data, you may notice that some of the email addresses '
    "are missing. You will only see email addresses for connections who have allowed "
    'their connections to see or download their email address."\r\n'
    "\r\n"
)
HUBSPOT = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
    "Company Name", "Job Title", "Lifecycle Stage", "Lead Status", "Contact owner",
    "Street Address", "City", "State/Region", "Postal Code", "Country/Region", "Create Date",
]  # fmt: skip
SALESFORCE_API = [
    "Id", "Salutation", "FirstName", "LastName", "Title", "AccountId", "Email", "Phone",
    "MobilePhone", "MailingStreet", "MailingCity", "MailingState", "MailingPostalCode",
    "MailingCountry", "LeadSource", "Birthdate", "Description", "OwnerId",
]  # fmt: skip
THUNDERBIRD = [
    "First Name", "Last Name", "Display Name", "Nickname", "Primary Email", "Secondary Email",
    "Screen Name", "Work Phone", "Home Phone", "Fax Number", "Pager Number", "Mobile Number",
    "Home Address", "Home City", "Home State", "Home ZipCode", "Home Country", "Job Title",
    "Department", "Organization", "Web Page 1", "Notes",
]  # fmt: skip
MAILCHIMP = [
    "Email Address", "First Name", "Last Name", "Address", "Phone Number", "Birthday",
    "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE",
    "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID",
    "EUID", "NOTES", "TAGS",
]  # fmt: skip
ZOHO = [
    "Record Id", "Contact Owner", "Lead Source", "First Name", "Last Name", "Account Name",
    "Email", "Title", "Department", "Phone", "Mobile", "Date of Birth", "Secondary Email",
    "Mailing Street", "Mailing City", "Mailing State", "Mailing Zip", "Mailing Country",
    "Description", "Created Time",
]  # fmt: skip
PIPEDRIVE = [
    "Person - Name", "Person - Organization", "Person - Email - Work",
    "Person - Email - Home", "Person - Phone - Work", "Person - Phone - Mobile",
    "Person - Label", "Person - Owner",
]  # fmt: skip
SHEET = ["Full Name", "Email", "Phone", "Company", "Position", "Zip Code", "City", "Country",
         "Notes"]  # fmt: skip


def google(folder: Path) -> Sample:
    h = GOOGLE
    rows = [
        _row(h, **{"First Name": "Ann", "Last Name": "Lee", "Organization Name": "Acme",
                   "Organization Title": "CTO", "Labels": "* myContacts ::: Friends",
                   "E-mail 1 - Label": "* Work", "E-mail 1 - Value": "ann@acme.example",
                   "E-mail 2 - Label": "Home", "E-mail 2 - Value": "ann@home.example",
                   "Phone 1 - Label": "Work", "Phone 1 - Value": "+1 415 555 0100",
                   "Phone 2 - Label": "Mobile", "Phone 2 - Value": "+1 415 555 2671",
                   "Birthday": "1985-04-12", "Notes": "Met at the fair",
                   "Address 1 - City": "San Francisco", "Address 1 - Country": "United States"}),
        _row(h, **{"First Name": "Jürgen", "Last Name": "Groß",
                   "E-mail 1 - Value": "j@example.de ::: juergen@example.de",
                   "Phone 1 - Label": "Mobile", "Phone 1 - Value": "0151 23456789",
                   "Address 1 - Country": "Germany"}),
        _row(h, **{"Organization Name": "Solo GmbH", "Phone 1 - Value": "not a phone"}),
    ]  # fmt: skip
    return Sample(_csv(folder / "google.csv", h, rows), "Google Contacts", 3)


def google_legacy(folder: Path) -> Sample:
    h = GOOGLE_LEGACY
    rows = [
        _row(h, **{"Name": "Cara Diaz", "Group Membership": "* myContacts",
                   "E-mail 1 - Type": "* Home", "E-mail 1 - Value": "cara@example.com",
                   "Phone 1 - Type": "Mobile", "Phone 1 - Value": "(201) 555-0123",
                   "Organization 1 - Name": "Diaz & Co", "Organization 1 - Title": "Owner"}),
        _row(h, **{"Name": "Dev Patel", "E-mail 1 - Value": "dev@example.com"}),
    ]  # fmt: skip
    return Sample(_csv(folder / "google-legacy.csv", h, rows), "Google Contacts", 2)


def outlook(folder: Path) -> Sample:
    h = OUTLOOK
    rows = [
        _row(h, **{"Title": "Dr.", "First Name": "Eve", "Last Name": "Adams", "Company": "Initech",
                   "Job Title": "Director", "Business Phone": "(212) 555-0147",
                   "Mobile Phone": "(917) 555-0199", "E-mail Address": "eve@initech.example",
                   "E-mail 2 Address": "eve@home.example", "Gender": "Unspecified",
                   "Business City": "New York", "Business Postal Code": "10001",
                   "Categories": "Clients"}),
        _row(h, **{"Title": "Mr.", "Last Name": "Brown", "Company": "Initech"}),
    ]  # fmt: skip
    return Sample(_csv(folder / "outlook.csv", h, rows), "Outlook", 2)


def outlook_de(folder: Path) -> Sample:
    h = OUTLOOK_DE
    rows = [
        _row(h, **{"Anrede": "Frau", "Vorname": "Renée", "Nachname": "Bäcker",
                   "Firma": "Müller AG", "Position": "Einkäuferin",
                   "Straße geschäftlich": "Hauptstraße 1", "Ort geschäftlich": "München",
                   "Postleitzahl geschäftlich": "80331", "Land/Region geschäftlich": "Deutschland",
                   "Mobiltelefon": "0171 2345678", "E-Mail-Adresse": "renee@mueller.example",
                   "Notizen": "Rückruf im März"}),
        _row(h, **{"Vorname": "Élodie", "Nachname": "Crète", "Firma": "Café Noël",
                   "E-Mail-Adresse": "elodie@cafe.example"}),
    ]  # fmt: skip
    # Outlook writes its CSV export in the system's ANSI code page.
    path = _csv(folder / "outlook-de.csv", h, rows, encoding="cp1252", delimiter=";")
    return Sample(path, "Outlook", 2)


def linkedin(folder: Path) -> Sample:
    h = LINKEDIN
    rows = [
        ["Farah", "Khan", "https://www.linkedin.com/in/farahkhan", "", "Globex", "Engineer",
         "12 Jan 2021"],
        ["Gus", "Ortiz", "https://www.linkedin.com/in/gusortiz", "gus@example.com", "",
         "Founder", "03 Mar 2020"],
    ]  # fmt: skip
    path = _csv(folder / "Connections.csv", h, rows, preamble=LINKEDIN_PREAMBLE)
    return Sample(path, "LinkedIn", 2)


def hubspot(folder: Path) -> Sample:
    h = HUBSPOT
    rows = [
        _row(h, **{"Record ID": "501", "First Name": "Hana", "Last Name": "Ito",
                   "Email": "hana@example.jp", "Phone Number": "+81 3-1234-5678",
                   "Company Name": "Umbrella", "Lifecycle Stage": "Lead",
                   "Lead Status": "Open Deal", "State/Region": "Tokyo",
                   "Country/Region": "Japan", "Postal Code": "100-0001"}),
    ]  # fmt: skip
    return Sample(_csv(folder / "hubspot-contacts.csv", h, rows), "HubSpot", 1)


def salesforce(folder: Path) -> Sample:
    h = SALESFORCE_API
    rows = [
        _row(h, **{"Id": "0035e00000AbCdE", "Salutation": "Ms.", "FirstName": "Ivy",
                   "LastName": "Young", "Title": "VP Sales", "Email": "ivy@example.com",
                   "Phone": "(415) 555-0111", "MobilePhone": "(415) 555-0112",
                   "MailingStreet": "1 Market St", "MailingCity": "San Francisco",
                   "MailingPostalCode": "94105", "MailingCountry": "USA",
                   "LeadSource": "Web", "Birthdate": "1979-02-28"}),
    ]  # fmt: skip
    return Sample(_csv(folder / "Contact.csv", h, rows), "Salesforce", 1)


def thunderbird(folder: Path) -> Sample:
    h = THUNDERBIRD
    rows = [
        _row(h, **{"First Name": "Jan", "Last Name": "de Vries", "Display Name": "Jan de Vries",
                   "Primary Email": "jan@example.nl", "Secondary Email": "jan@work.example",
                   "Mobile Number": "06 12345678", "Home Country": "Netherlands",
                   "Organization": "Hema"}),
        _row(h, **{"Display Name": "Kim Lo", "Primary Email": "kim@example.com"}),
    ]  # fmt: skip
    return Sample(_csv(folder / "thunderbird.csv", h, rows), "Thunderbird", 2)


def mailchimp(folder: Path) -> Sample:
    h = MAILCHIMP
    rows = [
        _row(h, **{"Email Address": "lia@example.com", "First Name": "Lia",
                   "MEMBER_RATING": "2", "TAGS": '"vip"', "CC": "US"}),
        _row(h, **{"Email Address": "max@example.com", "MEMBER_RATING": "1"}),
    ]  # fmt: skip
    return Sample(_csv(folder / "subscribed_members_export.csv", h, rows), "Mailchimp", 2)


def zoho(folder: Path) -> Sample:
    h = ZOHO
    rows = [
        _row(h, **{"Record Id": "zcrm_1", "First Name": "Nia", "Last Name": "Obi",
                   "Account Name": "Wayne Ltd", "Email": "nia@wayne.example",
                   "Secondary Email": "nia@home.example", "Mobile": "+44 7911 123456",
                   "Mailing Country": "United Kingdom", "Title": "Buyer"}),
    ]  # fmt: skip
    return Sample(_csv(folder / "Contacts_2024.csv", h, rows), "Zoho CRM", 1)


def pipedrive(folder: Path) -> Sample:
    h = PIPEDRIVE
    rows = [
        _row(h, **{"Person - Name": "Omar Said", "Person - Organization": "Stark",
                   "Person - Email - Work": "omar@stark.example",
                   "Person - Phone - Work": "+1 212 555 0150",
                   "Person - Phone - Mobile": "+1 917 555 0151", "Person - Label": "Hot lead"}),
    ]  # fmt: skip
    return Sample(_csv(folder / "people-export.csv", h, rows), "Pipedrive", 1)


def sheet(folder: Path) -> Sample:
    book = openpyxl.Workbook()
    page = book.active
    assert page is not None
    page.append(["Customer list, December"])
    page.append([])
    page.append(SHEET)
    page.append(["Pat Quinn", "pat@example.com", 4155550188, "Quinn LLC", "Owner", "94110",
                 "San Francisco", "US", "Pays on time"])  # fmt: skip
    page.append(["Rae Sun", "", "", "Sun Co", "", "", "", "", ""])
    path = folder / "customers.xlsx"
    book.save(path)
    return Sample(path, None, 2)


def vcards(folder: Path) -> Sample:
    """Two vCards written by vobject (3.0), and a vCard 2.1 card as phones write it."""
    cards = []
    card = vobject.vCard()
    card.add("n").value = vobject.vcard.Name(family="Stone", given="Sam")
    card.add("fn").value = "Sam Stone"
    card.add("org").value = ["Cyberdyne"]
    card.add("title").value = "Engineer"
    for value, kind in (("sam@cyberdyne.example", "WORK"), ("sam@home.example", "HOME")):
        email = card.add("email")
        email.value, email.type_param = value, kind
    for value, kind in (("+1 415 555 0177", "WORK"), ("+1 415 555 0178", "CELL")):
        tel = card.add("tel")
        tel.value, tel.type_param = value, kind
    adr = card.add("adr")
    adr.value = vobject.vcard.Address(
        street="2 Elm St", city="Oakland", region="CA", code="94601", country="USA"
    )
    card.add("bday").value = "1990-07-01"
    card.add("note").value = "Prefers email"
    card.add("categories").value = ["Clients", "VIP"]
    cards.append(card.serialize())
    other = vobject.vCard()
    other.add("n").value = vobject.vcard.Name(family="Tran", given="Uma")
    other.add("fn").value = "Uma Tran"
    other.add("email").value = "uma@example.com"
    cards.append(other.serialize())
    cards.append(
        "BEGIN:VCARD\r\nVERSION:2.1\r\n"
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;Zo=C3=AB;;;\r\n"
        "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Zo=C3=AB M=C3=BCller\r\n"
        "TEL;CELL:+49 151 23456789\r\nTEL;WORK;VOICE:+49 30 1234567\r\n"
        "EMAIL;INTERNET;PREF:zoe@example.de\r\nEND:VCARD\r\n"
    )
    path = folder / "contacts.vcf"
    path.write_text("".join(cards), encoding="utf-8")
    return Sample(path, None, 3)


BUILDERS = (
    google, google_legacy, outlook, outlook_de, linkedin, hubspot, salesforce, thunderbird,
    mailchimp, zoho, pipedrive, sheet, vcards,
)  # fmt: skip


def build(folder: Path) -> dict[str, Sample]:
    """Write every sample into ``folder``; name to sample."""
    return {builder.__name__: builder(folder) for builder in BUILDERS}
