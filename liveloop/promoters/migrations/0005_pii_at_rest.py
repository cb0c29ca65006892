# Promoters' phones and bank accounts sealed at rest, the phone found through a keyed hash
# (docs/decisions.md "Personal data at rest").

import liveloop.at_rest
from django.db import migrations, models

SEALED = ['phone', 'bank_account']


def seal(apps, schema_editor):
    # Existing rows hold plain values: read through the fields (plain passes as is), written back
    # sealed under the current key, with phone_hash computed from the plain phone.
    liveloop.at_rest.reseal_rows(apps.get_model('promoters', 'Promoter'), SEALED)


def unseal(apps, schema_editor):
    liveloop.at_rest.unseal_rows(apps.get_model('promoters', 'Promoter'), SEALED,
                                              schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('promoters', '0004_team_leader_parent_promoter_payee'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='promoter',
            name='promoter_org_phone',
        ),
        migrations.AlterField(
            model_name='promoter',
            name='phone',
            field=liveloop.at_rest.EncryptedTextField(blank=True, default='', max_length=20),
        ),
        migrations.AlterField(
            model_name='promoter',
            name='bank_account',
            field=liveloop.at_rest.EncryptedTextField(blank=True, default='', max_length=34),
        ),
        migrations.AddField(
            model_name='promoter',
            name='phone_hash',
            field=liveloop.at_rest.KeyedHashField(blank=True, default='', editable=False,
                                                               max_length=64, scope='org_id', source='phone'),
        ),
        migrations.RunPython(seal, unseal),
        migrations.AddConstraint(
            model_name='promoter',
            constraint=models.UniqueConstraint(condition=models.Q(('phone_hash', ''), _negated=True),
                                               fields=('org', 'phone_hash'), name='promoter_org_phone_hash'),
        ),
    ]
