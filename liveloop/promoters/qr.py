"""QR codes (segno): the recruit code, one-person codes and each promoter's invite code."""
import io

import segno


def qr_png(url: str, scale: int = 8) -> bytes:
    out = io.BytesIO()
    # Error correction M survives a crease or a thumb on a printed poster; border 4 is the spec's.
    segno.make(url, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_svg(url: str, scale: int = 6) -> str:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=scale, border=4, xmldecl=False,
                                    svgns=True, title=url)
    return out.getvalue().decode()
