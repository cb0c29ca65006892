from django.db import models

from liveloop.orgs.models import TenantModel


class Event(TenantModel):
    """The append-only log: every accepted fact, in the order it was accepted (seq).

    Nothing updates or deletes rows here. `promoter` is the programme member the event's
    code resolved to when it was accepted (null when absent or not in the programme), so a
    replay attributes exactly as ingest did even if the programme changes later.
    """
    seq = models.BigAutoField(primary_key=True)
    eid = models.CharField(max_length=128)
    type = models.CharField(max_length=20)
    live = models.ForeignKey("lives.Live", null=True, on_delete=models.PROTECT, related_name="+")
    viewer = models.CharField(max_length=128)
    promoter_code = models.CharField(max_length=32, null=True)
    promoter = models.ForeignKey("promoters.Promoter", null=True, on_delete=models.PROTECT,
                                 related_name="+")
    order = models.CharField(max_length=64, null=True)
    amount = models.BigIntegerField(null=True)
    count = models.BigIntegerField(null=True)
    at = models.DateTimeField()
    touchpoint = models.CharField(max_length=16, null=True)
    attrs = models.JSONField(null=True)
    source = models.CharField(max_length=16, default="api")
    # The person the viewer id resolved to when accepted (rules.identity), when not the id itself.
    person = models.CharField(max_length=128, null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "eid"], name="event_org_eid")]


class ViewerLink(TenantModel):
    """Derived from the log (identify events, id attrs): which person an id belongs to."""
    viewer = models.CharField(max_length=128)
    person = models.CharField(max_length=128)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "viewer"], name="viewerlink_org_viewer")]
        indexes = [models.Index(fields=["org", "person"], name="viewerlink_org_person")]


class LiveViewer(TenantModel):
    """Derived: one viewer's standing in one live — binding and which firsts already counted."""
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    viewer = models.CharField(max_length=128)
    bound = models.ForeignKey("promoters.Promoter", null=True, on_delete=models.CASCADE,
                              related_name="+")
    bound_at = models.DateTimeField(null=True)
    reserved = models.BooleanField(default=False)
    reserved_for = models.ForeignKey("promoters.Promoter", null=True, on_delete=models.CASCADE,
                                     related_name="+")
    entered = models.BooleanField(default=False)
    bought = models.BooleanField(default=False)
    followed = models.BooleanField(default=False)
    captured = models.BooleanField(default=False)
    # The promoter the viewer's first entry was credited to (the `entered` figure's row): whom
    # the promoter's own entry counted for stays known when the binding moves on afterwards.
    entered_for = models.ForeignKey("promoters.Promoter", null=True, on_delete=models.CASCADE,
                                    related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "live", "viewer"],
                                               name="liveviewer_org_live_viewer")]


class Order(TenantModel):
    """Derived: an order as paid and refunded so far, and who it is credited to."""
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    order = models.CharField(max_length=64)
    viewer = models.CharField(max_length=128)
    promoter = models.ForeignKey("promoters.Promoter", null=True, on_delete=models.CASCADE,
                                 related_name="+")
    paid = models.BigIntegerField()
    refunded = models.BigIntegerField(default=0)
    # WeChat's commission orders on it (rules.attribution.OrderState): each SKU's state, and the
    # part of `paid` WeChat commissions now, which the brand's plan leaves out unless it says so.
    wechat = models.TextField(default="", blank=True)
    wechat_paid = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "order"], name="order_org_order")]
        # Commission reads a live's orders per promoter, and a buyer's earlier orders (新客).
        indexes = [models.Index(fields=["org", "live", "promoter"], name="order_org_live_promoter"),
                   models.Index(fields=["org", "viewer"], name="order_org_viewer"),
                   # The few orders WeChat commissions: money reads them every ingest batch
                   # (money.inputs), and without this would walk all the promoter's orders.
                   models.Index(fields=["org", "live", "promoter"], condition=models.Q(wechat_paid__gt=0),
                                name="order_org_wechat")]
