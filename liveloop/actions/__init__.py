"""What operators and promoters do: create, start, end or cancel a live; enrol and join; prove a
phone. An action writes its rows, its facts (through events.ingest), its stats rows and its
notices in one transaction, so it sits above events, analytics and notify, and the domain
packages below (lives, promoters, orgs) hold only their models and rules."""
