"""Settings for a real cluster: Kafka's TLS and SASL for every client, secrets from files, MongoDB's
credentials and TLS in its URI (never shown)."""

import ssl

import pytest
from crm_runtime.kafka import kafka_options, kafka_security
from crm_runtime.settings import ServiceSettings
from faststream.security import SASLScram256
from pydantic import ValidationError
from pymongo.uri_parser import parse_uri

CLUSTER_URI = "mongodb://crm:s3cret-pw@db1.example,db2.example/?tls=true&authSource=admin"


@pytest.fixture
def cafile(tmp_path):
    """A real CA certificate: the SSL context loads it."""
    path = tmp_path / "ca.pem"
    path.write_text(ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(_any_system_ca())))
    return path


def _any_system_ca() -> str:
    context = ssl.create_default_context()
    der = context.get_ca_certs(binary_form=True)
    if not der:  # the image has no CA bundle: the tests say so instead of passing emptily
        raise RuntimeError("no system CA certificate to test with")
    return ssl.DER_cert_to_PEM_cert(der[0])


def test_plaintext_by_default_for_the_local_stack():
    settings = ServiceSettings()
    assert kafka_security(settings) is None
    assert kafka_options(settings) == {"bootstrap_servers": "127.0.0.1:9092"}


def test_sasl_ssl_with_scram_reaches_every_client_with_a_verifying_tls_context(cafile):
    settings = ServiceSettings(
        kafka_bootstrap_servers="b1.example:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="crm",
        kafka_sasl_password="pw",
        kafka_ssl_cafile=cafile,
    )
    assert isinstance(kafka_security(settings), SASLScram256)
    options = kafka_options(settings)
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "b1.example:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "crm",
        "sasl_plain_password": "pw",
    }
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1, "the given CA, not the system's"


def test_tls_alone_trusts_the_system_cas_when_no_file_is_given():
    options = kafka_options(ServiceSettings(kafka_security_protocol="SSL"))
    assert options["security_protocol"] == "SSL"
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs CRM_KAFKA_SASL_USERNAME"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "crm"},
            "needs CRM_KAFKA_SASL_USERNAME and CRM_KAFKA_SASL_PASSWORD",
        ),
        ({"kafka_sasl_username": "crm", "kafka_sasl_password": "pw"}, "would go unused"),
        ({"kafka_ssl_cafile": "CAFILE"}, "set it to SSL or SASL_SSL"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "CAFILE"},
            "KEYFILE needs CRM_KAFKA_SSL_CERTFILE",
        ),
        ({"kafka_security_protocol": "TLS"}, "PLAINTEXT"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/no/such.pem"},
            "not point to a file",
        ),
    ],
)
def test_a_half_configured_connection_is_refused_at_start_up_with_the_reason(given, reason, cafile):
    given = {name: str(cafile) if value == "CAFILE" else value for name, value in given.items()}
    with pytest.raises(ValidationError, match=reason):
        ServiceSettings(**given)


def test_secrets_come_from_files_named_like_their_variables_and_variables_win(
    tmp_path, monkeypatch
):
    (tmp_path / "crm_auth_secret").write_text("from-a-file-" * 4)
    (tmp_path / "mongodb_uri").write_text(CLUSTER_URI)
    (tmp_path / "crm_kafka_sasl_password").write_text("kafka-pw")
    monkeypatch.setenv("CRM_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("CRM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CRM_KAFKA_SASL_USERNAME", "crm")
    settings = ServiceSettings()
    assert settings.auth_secret and settings.auth_secret.get_secret_value() == "from-a-file-" * 4
    assert settings.mongodb_uri.get_secret_value() == CLUSTER_URI
    assert kafka_options(settings)["sasl_plain_password"] == "kafka-pw"

    monkeypatch.setenv("CRM_AUTH_SECRET", "from-the-environment" * 2)
    assert ServiceSettings().auth_secret.get_secret_value() == "from-the-environment" * 2


def test_without_a_secrets_dir_no_file_is_read(tmp_path, monkeypatch):
    (tmp_path / "crm_auth_secret").write_text("never-read" * 4)
    monkeypatch.chdir(tmp_path)
    assert ServiceSettings().auth_secret is None


def test_mongodb_credentials_and_tls_travel_in_the_uri_and_are_never_shown():
    settings = ServiceSettings(mongodb_uri=CLUSTER_URI)
    parsed = parse_uri(settings.mongodb_uri.get_secret_value())
    assert (parsed["username"], parsed["password"]) == ("crm", "s3cret-pw")
    assert parsed["options"]["tls"] is True and parsed["options"]["authSource"] == "admin"
    shown = f"{settings!r} {settings.model_dump()} {settings.model_dump_json()}"
    assert "s3cret-pw" not in shown
