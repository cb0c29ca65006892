# Statements' payees (an openid or a bank account) sealed at rest
# (docs/decisions.md "Personal data at rest").

import liveloop.at_rest
from django.db import migrations


def seal(apps, schema_editor):
    liveloop.at_rest.reseal_rows(apps.get_model('money', 'Statement'), ['payee'])


def unseal(apps, schema_editor):
    liveloop.at_rest.unseal_rows(apps.get_model('money', 'Statement'), ['payee'],
                                              schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('money', '0003_statement_batch_entry_key'),
    ]

    operations = [
        migrations.AlterField(
            model_name='statement',
            name='payee',
            field=liveloop.at_rest.EncryptedTextField(blank=True, default='', max_length=128),
        ),
        migrations.RunPython(seal, unseal),
    ]
