"""The deployment files as their own tools read them, where no Docker engine or cluster runs:
compose.yaml loaded as Docker Compose loads it (deploy/tools/composecheck, on compose-go), the
Kubernetes manifests built as `kubectl apply -k` builds them (deploy/tools/kustomizecheck, on
kustomize's library; both built by `make install`) and checked against the API's schemas by
kubernetes-validate, and the Dockerfile linted by hadolint (both locked development
dependencies)."""

import functools
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import kubernetes_validate
import yaml
from crm_contracts import ALL_TOPICS

ROOT = Path(__file__).resolve().parents[2]
COMPOSECHECK = ROOT / ".tools" / "bin" / "composecheck"
KUSTOMIZECHECK = ROOT / ".tools" / "bin" / "kustomizecheck"
HADOLINT = Path(sys.executable).parent / "hadolint"
SECRETS = {"CRM_AUTH_SECRET": "s" * 32, "CRM_ADMIN_PASSWORD": "a long password"}
SERVICES = ("customer", "followup", "scoring", "reporting")


def load(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    given = [f"{name}={value}" for name, value in env.items()]
    command = [str(COMPOSECHECK), "compose.yaml", *given]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_compose_runs_each_service_from_the_one_image_once_kafka_and_the_replica_set_are_up():
    loaded = load(SECRETS)
    assert loaded.returncode == 0, loaded.stderr
    services = json.loads(loaded.stdout)["services"]
    assert set(services) == {"kafka", "mongo", "mongo-init", *SERVICES}
    for name in SERVICES:
        service = services[name]
        assert service["image"] == "crm-backend:local", name
        assert service["build"]["context"] == str(ROOT), name
        assert service["command"] == [f"crm_{name}"], name
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy", name
        assert service["depends_on"]["mongo-init"]["condition"] == (
            "service_completed_successfully"
        ), name
        # Secrets as files, where the settings look for them; never in the environment.
        assert {"source": "crm_auth_secret", "target": "/run/secrets/crm_auth_secret"} in service[
            "secrets"
        ], name
        assert service["environment"]["CRM_SECRETS_DIR"] == "/run/secrets", name
        assert not set(service["environment"]) & {*SECRETS, "MONGODB_URI_FILE"}, name
        assert service["environment"]["MONGODB_URI"].endswith("replicaSet=rs0"), name
        # A range of ports on loopback: `docker compose up --scale <service>=3` starts three.
        [port] = service["ports"]
        assert port["host_ip"] == "127.0.0.1" and "-" in port["published"], name
    assert "crm_admin_password" in {secret["source"] for secret in services["customer"]["secrets"]}
    loaded_secrets = json.loads(loaded.stdout)["secrets"]
    assert {name: secret["environment"] for name, secret in loaded_secrets.items()} == {
        name.lower(): name for name in SECRETS
    }
    assert "healthcheck" in services["kafka"] and "healthcheck" in services["mongo"]
    assert services["mongo-init"]["depends_on"]["mongo"]["condition"] == "service_healthy"


def test_compose_holds_no_default_secret():
    for missing in SECRETS:
        loaded = load({name: value for name, value in SECRETS.items() if name != missing})
        assert loaded.returncode != 0, missing
        assert missing in loaded.stderr, loaded.stderr


def test_the_dockerfile_passes_hadolint():
    linted = subprocess.run(
        [str(HADOLINT), "--no-color", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_image_runs_as_a_user_of_its_own_and_checks_its_health():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    final = lines[max(n for n, line in enumerate(lines) if line.startswith("FROM ")) :]
    assert "USER 10001" in final
    assert any(line.startswith("HEALTHCHECK") for line in final)
    assert any("/health" in line for line in final)
    assert not any(line.startswith("ENV") and "SECRET" in line for line in lines)


K8S = ROOT / "deploy" / "k8s"
KUBERNETES = "1.33.0"  # the oldest minor version the manifests are checked against
# The operators' own resources: no schema of the Kubernetes API has them.
OPERATED = {"Kafka", "KafkaNodePool", "KafkaUser", "MongoDBCommunity"}


@functools.cache
def built(kustomization: str = "base") -> tuple[dict, ...]:
    run = subprocess.run(
        [str(KUSTOMIZECHECK), str(K8S / kustomization)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return tuple(doc for doc in yaml.safe_load_all(run.stdout) if doc)


def of_kind(kind: str, kustomization: str = "base") -> list[dict]:
    return [doc for doc in built(kustomization) if doc["kind"] == kind]


def valid(docs: tuple[dict, ...]) -> None:
    for doc in docs:
        if doc["kind"] in OPERATED:
            continue
        name = doc["metadata"]["name"]
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except Exception as error:  # its own ValidationError, or jsonschema's, says what is wrong
            raise AssertionError(f"{doc['kind']} {name}: {error}") from error


def test_every_kubernetes_manifest_is_valid_against_the_schemas():
    valid(built())
    kinds = Counter(doc["kind"] for doc in built())
    per_service = ["Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"]
    assert kinds == {
        **dict.fromkeys(per_service, len(SERVICES)),
        "ConfigMap": 1,
        "Secret": 1,
        "Job": 1,
    }
    images = {c["image"] for doc in built() for c in containers(doc)}
    assert images == {"crm-backend:0.1.0", "apache/kafka:4.1.1"}  # the tag set in one place
    assert all(doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "crm" for doc in built())


def containers(doc: dict) -> list[dict]:
    return doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])


def test_each_deployment_is_probed_limited_and_scaled_no_further_than_its_partitions():
    [config] = of_kind("ConfigMap")
    partitions = int(config["data"]["CRM_TOPIC_PARTITIONS"])
    for deployment in of_kind("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["args"][0].removeprefix("crm_") in SERVICES
    for autoscaler in of_kind("HorizontalPodAutoscaler"):
        assert 2 <= autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
        assert autoscaler["spec"]["maxReplicas"] <= partitions  # more consumers would idle
    assert len(of_kind("PodDisruptionBudget")) == len(SERVICES)
    [secret] = of_kind("Secret")
    assert not any(secret["stringData"].values())  # filled by whoever deploys, never shipped


def test_the_topics_job_creates_every_topic_and_its_dead_letters_replicated_three_times():
    [job] = of_kind("Job")
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert "--replication-factor 3" in script and "min.insync.replicas=2" in script
    assert '"$topic.dlt"' in script
    assert all(topic in script for topic in ALL_TOPICS)


def test_the_cluster_settings_name_real_settings_and_secrets_reach_pods_only_as_files():
    """A misspelt variable would be ignored without a word: each must name a setting."""
    from crm_customer.settings import CustomerSettings

    known = set()
    for name, field in CustomerSettings.model_fields.items():
        aliases = getattr(field.validation_alias, "choices", None) or []
        known |= {f"CRM_{name.upper()}", *(str(alias) for alias in aliases)}
    [config] = of_kind("ConfigMap")
    assert set(config["data"]) - {"CRM_SECRETS_DIR"} <= known
    assert config["data"]["CRM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    [secret] = of_kind("Secret")
    assert {key.upper() for key in secret["stringData"]} <= known
    mount = config["data"]["CRM_SECRETS_DIR"]
    for deployment in of_kind("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert all("secretRef" not in source for source in container["envFrom"])
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"]}
        assert volumes[next(n for n, path in mounts.items() if path == mount)] == "crm-secrets"
        ca = config["data"]["CRM_KAFKA_SSL_CAFILE"]
        assert any(ca.startswith(path + "/") for path in mounts.values())


def test_the_operators_example_gives_the_services_what_the_operators_write():
    """Strimzi's and the MongoDB operator's names, as they make them from the resources."""
    docs = built("example-operators")
    valid(docs)
    named = {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}
    kafka = named[("Kafka", "crm")]
    [listener] = kafka["spec"]["kafka"]["listeners"]
    config = named[("ConfigMap", "crm-config")]["data"]
    assert config["KAFKA_BOOTSTRAP_SERVERS"] == f"crm-kafka-bootstrap:{listener['port']}"
    assert listener["tls"] and config["CRM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert listener["authentication"]["type"].upper() == config["CRM_KAFKA_SASL_MECHANISM"]
    user = named[("KafkaUser", config["CRM_KAFKA_SASL_USERNAME"])]
    assert user["metadata"]["labels"]["strimzi.io/cluster"] == "crm"
    [mongo_user] = named[("MongoDBCommunity", "crm-mongodb")]["spec"]["users"]
    written = {  # the Secret each operator writes, and the key the services read
        user["metadata"]["name"]: "password",
        f"crm-mongodb-{mongo_user['db']}-{mongo_user['name']}": "connectionString.standard",
        "crm-cluster-ca-cert": "ca.crt",
    }
    overlay = "example-operators"
    for doc in [*of_kind("Deployment", overlay), *of_kind("Job", overlay)]:
        volumes = {v["name"]: v for v in doc["spec"]["template"]["spec"]["volumes"]}
        sources = {
            s["secret"]["name"]: s["secret"] for s in volumes["secrets"]["projected"]["sources"]
        }
        paths = {item["path"] for source in sources.values() for item in source["items"]}
        assert paths == {
            "crm_auth_secret",
            "crm_admin_password",
            "crm_kafka_sasl_password",
            "mongodb_uri",
        }
        for name, key in written.items():
            if name in sources:
                assert [item["key"] for item in sources[name]["items"]] == [key]
        assert volumes["kafka-ca"]["secret"]["secretName"] == "crm-cluster-ca-cert"
        assert config["CRM_KAFKA_SSL_CAFILE"].endswith("/" + written["crm-cluster-ca-cert"])
