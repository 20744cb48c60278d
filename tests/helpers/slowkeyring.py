"""The file keyring of tests/helpers/filekeyring.py, pausing after each
store (and leaving a `stored` marker), so that a test can kill a
`card add` between storing the PIN and writing the config."""

import os
import time
from pathlib import Path

from tests.helpers.filekeyring import FileKeyring


class SlowFileKeyring(FileKeyring):
    def set_password(self, service, username, password):
        super().set_password(service, username, password)
        Path(os.environ["TEST_KEYRING_DIR"], "stored").write_text("stored\n")
        time.sleep(30)
