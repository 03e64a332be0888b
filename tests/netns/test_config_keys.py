"""The README's configuration table is the key table: `run --dump-config-keys`
prints it, and README.md must contain exactly that output (regenerate with
`vm-browser-agent run --dump-config-keys` when adding a key)."""
import pathlib
import subprocess

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_readme_documents_every_key(agent_bin):
    table = subprocess.run([agent_bin, "run", "--dump-config-keys"], check=True,
                           capture_output=True, text=True).stdout
    assert table.startswith("| key | type | default | description |\n")
    assert len(table.splitlines()) > 40
    assert table in README.read_text()
