"""The brand's images on operator pages: the logo and default cover (settings), a live's cover
(the live's edit page). Uploads go through promoters.images, which refuses anything but a real
PNG, JPEG or WebP within the limits and stores a re-encoded copy; the files are served only
here and through a promoter's invite link, each time within the organisation asked for."""
from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from liveloop.promoters import images
from liveloop.promoters.models import BrandImage
from liveloop.web import queries
from liveloop.web.context import org_view, requires

ACCEPT = "image/png,image/jpeg,image/webp"


class ImageForm(forms.Form):
    image = forms.FileField(label=gettext_lazy("Image file"), help_text=gettext_lazy("PNG, JPEG or WebP, at most 5 MB."),
                            widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}))

    def __init__(self, *args, kind: str, **kwargs):
        # Prefixed by kind: the settings page holds the logo's and the cover's forms at once.
        super().__init__(*args, prefix=kind, **kwargs)
        self.kind = kind

    def clean_image(self):
        try:
            return images.clean_upload(self.cleaned_data["image"], self.kind)
        except images.ImageRejected as error:
            raise forms.ValidationError(str(error), code="invalid_image") from None


def image_response(row: BrandImage | None) -> HttpResponse:
    data = images.read(row) if row is not None else None
    if data is None:
        raise Http404("no such image")
    return HttpResponse(data, content_type=images.content_type(row))


def settings_context(org, logo_form=None, cover_form=None) -> dict:
    return {"logo": images.image_of(org, BrandImage.LOGO), "brand_cover": images.image_of(org, BrandImage.COVER),
            "logo_form": logo_form or ImageForm(kind=BrandImage.LOGO),
            "cover_form": cover_form or ImageForm(kind=BrandImage.COVER)}


def live_cover_context(live, cover_form=None) -> dict:
    return {"live_cover": images.image_of(live.org, BrandImage.COVER, live=live),
            "brand_cover": images.image_of(live.org, BrandImage.COVER),
            "cover_form": cover_form or ImageForm(kind=BrandImage.COVER)}


def upload_image(request, org, kind: str, live=None) -> ImageForm | None:
    """Store the posted image, or remove it (the form's remove button). The form back when it
    was refused, to show beside its field."""
    if "remove" in request.POST:
        if images.remove_image(org, kind, live=live):
            messages.success(request, _("The image is removed."))
        return None
    form = ImageForm(request.POST, request.FILES, kind=kind)
    if not form.is_valid():
        return form
    images.save_image(org, kind, form.cleaned_data["image"], live=live)
    messages.success(request, _("The image is saved."))
    return None


@never_cache
@require_GET
@org_view
def brand_logo_image(request, org):
    return image_response(images.image_of(org, BrandImage.LOGO))


@never_cache
@require_GET
@org_view
def brand_cover_image(request, org):
    return image_response(images.image_of(org, BrandImage.COVER))


@never_cache
@require_GET
@org_view
def live_cover_image(request, org, public_id):
    return image_response(images.image_of(org, BrandImage.COVER, live=queries.live_of(org, public_id)))
