"""The installation's own secret key, made once and kept beside the database.

Without LIVELOOP_SECRET_KEY a fixed key in the source would sign every installation's own-page
links and sessions alike: anyone who read the source could forge them. So an installation
without one gets a random key, written once into LIVELOOP_DATA_DIR (mode 0600) and read back on
every later start, by every worker. No Django import: settings call this.
"""
import os
import secrets
import tempfile
from pathlib import Path

FILE_NAME = "secret_key"


def installation_key(data_dir: Path) -> str:
    path = Path(data_dir) / FILE_NAME
    if not path.exists():
        _create(path)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # a copy restored with looser rights: tighten, the key stays
    key = path.read_text().strip()
    if len(key) < 50:
        raise RuntimeError(f"{path} holds no usable secret key: remove it to have a new one made "
                           "(signed links and sessions made with the old one stop working)")
    return key


def _create(path: Path) -> None:
    # Written whole under another name, then linked into place: two workers starting at once both
    # try, os.link lets exactly one win, and neither ever reads a half-written file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(50) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: theirs is the key
    finally:
        os.unlink(draft)
