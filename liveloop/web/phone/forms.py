from django import forms
from django.utils.translation import gettext_lazy as _

from liveloop.rules.phones import normalise_mobile


class JoinForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=80)
    phone = forms.CharField(label=_("Mobile number"), max_length=20,
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))
    team = forms.ModelChoiceField(label=_("Store or team"), queryset=None, required=False,
                                  empty_label=_("— none —"))

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["name"].widget.attrs["autocomplete"] = "name"
        if not teams.exists():
            del self.fields["team"]

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name.isprintable():
            raise forms.ValidationError(_("Please use letters and characters only."))
        return name

    def clean_phone(self):
        phone = normalise_mobile(self.cleaned_data["phone"])
        if phone is None:
            raise forms.ValidationError(_("Enter an 11-digit mainland mobile number."))
        return phone


class PhoneForm(forms.Form):
    """The number a one-time code is asked for (carried over from the join form)."""
    phone = forms.CharField(label=_("Mobile number"), max_length=20,
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))

    clean_phone = JoinForm.clean_phone


class VerifyForm(PhoneForm):
    code = forms.CharField(label=_("One-time code"), min_length=6, max_length=6,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                                         "pattern": "[0-9]*"}))

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if not code.isascii() or not code.isdigit():
            raise forms.ValidationError(_("The code is 6 digits."))
        return code
