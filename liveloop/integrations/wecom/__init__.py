"""WeCom (企业微信): customers added by a guide become `capture` events; viewers are routed to
the contact code of the promoter who earned them."""
