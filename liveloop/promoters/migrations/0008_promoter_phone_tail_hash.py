# The keyed hash of a phone's last four digits, for the promoter directory's "…5678" search
# (docs/decisions.md "Promoters as people").

import liveloop.at_rest
from django.db import migrations


def backfill(apps, schema_editor):
    # Through the existing helper: each phone is read, sealed again and both hashes computed.
    liveloop.at_rest.reseal_rows(apps.get_model('promoters', 'Promoter'), ['phone'])


class Migration(migrations.Migration):

    dependencies = [
        ('promoters', '0007_name_pinyin'),
    ]

    operations = [
        migrations.AddField(
            model_name='promoter',
            name='phone_tail_hash',
            field=liveloop.at_rest.KeyedHashField(blank=True, default='', editable=False, max_length=64, scope='org_id', source='phone', tail=4),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
