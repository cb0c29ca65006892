"""How people's ids are shown to other people: enough to tell them apart, not to find them."""


def mask_viewer(viewer: str) -> str:
    """o6_b…2M → "o6****2M"; ids of six characters or fewer are hidden whole."""
    if len(viewer) <= 6:
        return "****"
    return f"{viewer[:2]}****{viewer[-2:]}"
