"""ClientTether's profile fields, by the section of the profile that shows them.

Name, company (the contact's account), email, cell phone, OK to SMS, city, state and
lead source are crmkit's built-in attributes; everything else is declared here.
"""

from __future__ import annotations

from crmkit.plugin_api import FieldSpec

HEADER = (
    FieldSpec("assigned_user", "Assigned user", "text", "header"),
    FieldSpec("action_plan", "Action plan", "text", "header"),
    FieldSpec("sales_cycle", "Sales cycle", "text", "header"),
    FieldSpec("proposals", "Proposals", "integer", "header"),
)
OPPORTUNITY = (
    FieldSpec("deal_size", "Deal size", "number", "opportunity"),
    FieldSpec("quoted", "Quoted", "number", "opportunity"),
    FieldSpec("closed", "Closed", "number", "opportunity"),
    FieldSpec("likelihood", "Likelihood", "percent", "opportunity"),
    FieldSpec("close_date", "Close date", "date", "opportunity"),
)
INFO = (
    FieldSpec("contact_type", "Contact type", "text", "info"),
    FieldSpec("title", "Title", "text", "info"),
    FieldSpec("secondary_phone", "Secondary phone", "phone", "info"),
    FieldSpec("address", "Address", "text", "info"),
    FieldSpec("zip", "Zip", "text", "info"),
)
EXPANDED = (
    FieldSpec("net_worth", "Net worth", "number", "expanded"),
    FieldSpec("home_owner_status", "Home owner status", "choice", "expanded", ("owner", "renter")),
    FieldSpec("household_income", "Household income", "number", "expanded"),
    FieldSpec("length_of_residence", "Length of residence (years)", "integer", "expanded"),
    FieldSpec(
        "marital_status",
        "Marital status",
        "choice",
        "expanded",
        ("single", "married", "divorced", "widowed"),
    ),
    FieldSpec("market_value", "Market value", "number", "expanded"),
    FieldSpec("occupation", "Occupation", "text", "expanded"),
    FieldSpec("social", "Social", "text", "expanded"),
    FieldSpec("age", "Age", "integer", "expanded"),
    FieldSpec("education", "Education", "text", "expanded"),
    FieldSpec("gender", "Gender", "text", "expanded"),
    FieldSpec("presence_of_children", "Presence of children", "bool", "expanded"),
    FieldSpec("presence_of_pets", "Presence of pets", "bool", "expanded"),
    FieldSpec("facebook", "Facebook link", "url", "expanded"),
    FieldSpec("linkedin", "LinkedIn link", "url", "expanded"),
    FieldSpec("twitter", "Twitter link", "url", "expanded"),
    FieldSpec("anniversary_1", "Anniversary (1)", "date", "expanded"),
    FieldSpec("anniversary_2", "Anniversary (2)", "date", "expanded"),
    FieldSpec("contact_date_next", "Contact date next", "date", "expanded"),
    FieldSpec("contact_date_last", "Contact date last", "date", "expanded"),
)
FIELDS = HEADER + OPPORTUNITY + INFO + EXPANDED
