"""User feedback: the service behind POST /feedback (``service``), its wire schemas
(``models``) and the recently scored e-mails a report may name (``recent``)."""
