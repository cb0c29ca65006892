"""Nothing is paid twice (issue 14): a statement names the payout batch it waits in, and an
adjustment may carry its form's idempotency key, unique per organisation."""
import django.db.models.deletion
from django.db import migrations, models


def waiting_statements(apps, schema_editor):
    """A settled statement already in a batch waits in its latest batch, unless it failed there
    and was settled again (a retry keeps the failure's reason; results that pay clear it)."""
    Statement = apps.get_model("money", "Statement")
    PayoutItem = apps.get_model("money", "PayoutItem")
    latest = {}
    for statement_id, batch_id in (PayoutItem.objects.filter(statement__state="settled", statement__failure="")
                                   .order_by("batch_id").values_list("statement_id", "batch_id")):
        latest[statement_id] = batch_id
    by_batch = {}
    for statement_id, batch_id in latest.items():
        by_batch.setdefault(batch_id, []).append(statement_id)
    for batch_id, ids in by_batch.items():
        for start in range(0, len(ids), 500):
            Statement.objects.filter(pk__in=ids[start:start + 500]).update(batch_id=batch_id)


class Migration(migrations.Migration):

    dependencies = [
        ('money', '0002_run_own_ids_withhold_tax'),
    ]

    operations = [
        migrations.AddField(
            model_name='entry',
            name='idempotency_key',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='statement',
            name='batch',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name='waiting', to='money.payoutbatch'),
        ),
        migrations.AddConstraint(
            model_name='entry',
            constraint=models.UniqueConstraint(condition=models.Q(('idempotency_key__isnull', False)),
                                               fields=('org', 'idempotency_key'), name='entry_org_idempotency_key'),
        ),
        migrations.RunPython(waiting_statements, migrations.RunPython.noop),
    ]
