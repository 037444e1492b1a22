"""Names that reach the journal, Redis and SQL (route, stop, vehicle, company, mode) are
checked where they enter the validator: POST /position and /mode, the configuration file,
the command line. A value a database would refuse (NUL, other control characters, a lone
surrogate, an absurd length) is a clear error there, and nothing changes.
"""

import json
import re

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import clock
from validator import config as configuration
from validator.config import ConfigError
from validator_testkit import http_client
from vexe.cli import main
from tests.testkit import ROUTE

# Each of these, as a route or a stop, is refused; "\ud800" cannot even be encoded as UTF-8.
BAD_NAMES = ["S\u00001", "\ud800", "S\udfff1", "S\n1", "S\t1", "S\x1b[2J", "S\x7f", "S\x85",
             "S" * 65]


@pytest.fixture
def validator(make_validator):
    return make_validator(validator_id="N1", vehicle="29B-111")


@pytest.fixture
def client(validator):
    return http_client(validator)


def post(client, path, body: str):
    return client.post(path, data=body.encode("utf-8", "surrogatepass"),
                       content_type="application/json")


def scan_works(client, validator, issuer) -> None:
    """A good scan is accepted, journaled, and the status answers."""
    now = clock.now()
    before = len(validator.journal)
    answer = client.post("/scan", json={"qr": issuer.rider(now=now, routes=("*",)).qr(now)})
    assert answer.status_code == 200 and answer.get_json()["reason"] == "ok"
    assert len(validator.journal) == before + 1
    assert client.get("/status").status_code == 200


class TestPosition:
    @pytest.mark.parametrize("field", ["route", "stop"])
    @pytest.mark.parametrize("name", BAD_NAMES)
    def test_a_name_a_database_would_refuse_is_400_and_changes_nothing(
            self, client, validator, issuer, field, name):
        response = post(client, "/position", json.dumps({field: name}))
        assert response.status_code == 400
        # '"stop" must not hold control characters', or "field 'stop' is not text" (a NUL,
        # a lone surrogate: refused by the body's reader)
        assert re.search(f"[\"']{field}[\"'] (must|is not text)", response.get_json()["error"])
        assert (validator.route, validator.stop) == (ROUTE, None)
        scan_works(client, validator, issuer)

    def test_vietnamese_names_are_names(self, client, validator):
        response = client.post("/position", json={"stop": "Cầu Giấy", "route": "E10"})
        assert response.status_code == 200
        assert (validator.route, validator.stop) == ("E10", "Cầu Giấy")


# Any code point, surrogates included (a JSON "\ud800" escape reads as one), and often one
# of those a database refuses.
# (A list joined, as st.text() leaves surrogates out whatever its alphabet.)
TEXT = st.lists(st.characters(exclude_categories=()) | st.sampled_from("\x00\ud800\udfff\n\x85"),
                max_size=80).map("".join)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6)
# Bodies of the right shape with any text in them, and any JSON at all.
BODIES = st.one_of(
    st.dictionaries(st.sampled_from(["route", "stop", "mode", "x"]), JSON_VALUES, max_size=3),
    st.fixed_dictionaries({}, optional={"route": TEXT, "stop": st.none() | TEXT}),
    st.fixed_dictionaries({"mode": TEXT | st.sampled_from(["board", "alight"])}),
    JSON_VALUES)


# The fixtures hold one validator for every example; each example starts it over.
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/position", "/mode"]), body=BODIES)
def test_fuzzing_position_and_mode_never_breaks_a_scan(client, validator, issuer, path, body):
    """Whatever is posted, the answer is 200 or 400 and the next scan still works."""
    validator.set_position(ROUTE, None)  # each example from the same start
    validator.set_mode("board")
    response = post(client, path, json.dumps(body))
    assert response.status_code in (200, 400), response.get_data()
    scan_works(client, validator, issuer)


class TestConfiguration:
    @pytest.mark.parametrize("key, table", [("vehicle", "validator"), ("company", "validator"),
                                            ("route", "position"), ("stop", "position")])
    @pytest.mark.parametrize("name", ["S\\u00001", "S\\n1", "S\\u001b", "S\\u0085"])
    def test_a_control_character_in_a_name_is_refused(self, tmp_path, key, table, name):
        settings = {"validator": {"id": "V1", "vehicle": "B1"}, "position": {"route": "32"}}
        settings[table][key] = name
        text = "".join(f"[{t}]\n" + "".join(f'{k} = "{v}"\n' for k, v in values.items())
                       for t, values in settings.items())
        path = tmp_path / "validator.toml"
        path.write_text(text)
        with pytest.raises(ConfigError) as caught:
            configuration.load(path)
        assert f"[{table}] {key} must not hold control characters" in str(caught.value)
        assert "\n" not in str(caught.value)

    def test_a_nul_in_the_data_directory_is_refused(self, tmp_path):
        path = tmp_path / "validator.toml"
        path.write_text('[validator]\nid = "V1"\nvehicle = "B1"\ndata_dir = "/var/\\u0000x"\n'
                        '[position]\nroute = "32"\n')
        with pytest.raises(ConfigError, match=r"\[validator\] data_dir must not hold control"):
            configuration.load(path)


class TestCommandLine:
    @pytest.mark.parametrize("flag", ["--route", "--stop", "--vehicle"])
    @pytest.mark.parametrize("name", ["S\x001", "S\ud800", "S\n1"])
    def test_a_bad_name_on_the_command_line_is_one_line(self, tmp_path, flag, name):
        args = {"--id": "V1", "--vehicle": "B1", "--route": "32", flag: name}
        result = CliRunner().invoke(main, ["validator", "run", "--data-dir", str(tmp_path),
                                           "--http-port", "0",
                                           *[part for pair in args.items() for part in pair]])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("vexe: ") and result.stderr.count("\n") == 1
        assert "must not hold control characters" in result.stderr
        assert not (tmp_path / "validator-V1").exists()
