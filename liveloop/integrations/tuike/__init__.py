"""推客 (推客带货): WeChat's own promoter programme, run through the brand's 联盟带货机构 account.

client: the documented endpoints. callback: the signed promoter-bind push. links: lives ↔
notices and sharers ↔ promoters. sync: counts, statistics and official QR codes / share links
into tables, with the live's sync state. worker: the schedule. emulator: the endpoints played
locally (liveloop wechat-emulator).
"""
