"""inference subchart: inferenceservice.yaml, servingruntime.yaml, tests/test-triton-ready.yaml."""

from __future__ import annotations

import re

import pytest

from tests.charts import chartlib

TRACKS = ("staging", "production")


def isvcs(values):
    docs = chartlib.render_docs(values)
    return {
        d.body["metadata"]["labels"]["spam-platform/track"]: d.body
        for d in docs
        if d.kind == "InferenceService"
    }


def test_renders_one_triton_inferenceservice_per_track():
    found = isvcs(chartlib.minimal_values())
    assert set(found) == set(TRACKS)
    for track, isvc in found.items():
        assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
        assert isvc["kind"] == "InferenceService"
        assert isvc["metadata"]["name"] == f"spam-platform-{track}"
        model = isvc["spec"]["predictor"]["model"]
        assert model["modelFormat"] == {"name": "triton"}
        assert model["protocolVersion"] == "v2"
        assert "runtime" not in model  # KServe picks its Triton runtime


def test_storage_uri_is_the_triton_repository_of_the_track_version():
    found = isvcs(chartlib.env_values("production"))
    for track, version in (("staging", "8"), ("production", "7")):
        model = found[track]["spec"]["predictor"]["model"]
        assert model["storageUri"] == (
            f"https://stspamprod.blob.core.windows.net/models/spam-detector/v{version}/triton"
        )
        assert found[track]["metadata"]["annotations"]["spam-platform/model-version"] == version


def test_storage_uri_override_wins():
    values = chartlib.minimal_values(
        {"inference": {"tracks": {"staging": {"storageUri": "pvc://models/triton"}}}}
    )
    assert (
        isvcs(values)["staging"]["spec"]["predictor"]["model"]["storageUri"]
        == "pvc://models/triton"
    )


def test_staging_scales_to_zero_and_production_keeps_two():
    found = isvcs(chartlib.minimal_values())
    assert found["staging"]["spec"]["predictor"]["minReplicas"] == 0
    assert found["production"]["spec"]["predictor"]["minReplicas"] == 2
    for isvc in found.values():
        assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
        assert "canaryTrafficPercent" not in isvc["spec"]["predictor"]


def test_canary_percent_and_scale_target_when_set():
    found = isvcs(chartlib.ci_values("05-canary-identity-values.yaml"))
    predictor = found["production"]["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("concurrency", 8)
    assert "canaryTrafficPercent" not in found["staging"]["spec"]["predictor"]


@pytest.mark.parametrize(
    ("mode", "protocol", "ports"),
    [
        ("Knative", "grpc", [("h2c", 9000)]),
        ("Knative", "http", [("http1", 8080)]),
        ("Standard", "grpc", [("http", 8080), ("grpc", 9000)]),
        ("Standard", "http", [("http", 8080), ("grpc", 9000)]),
    ],
)
def test_container_ports_follow_the_serving_mode_and_protocol(mode, protocol, ports):
    values = chartlib.minimal_values(
        {
            "global": {"serving": {"deploymentMode": mode, "protocol": protocol}},
            "inference": {"tracks": {"staging": {"minReplicas": 1}}},
        }
    )
    for isvc in isvcs(values).values():
        model = isvc["spec"]["predictor"]["model"]
        assert [(p["name"], p["containerPort"]) for p in model["ports"]] == ports
        assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == mode
        # Knative probes only the routed port: explicit HTTP probes unless that port is h2c
        assert ("readinessProbe" in model) is (ports != [("h2c", 9000)])
        if mode == "Standard":
            assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "hpa"


# What a Knative revision accepts without feature flags (knative.dev/serving
# pkg/apis/serving/fieldmask.go): runAsUser, fsGroup & co. on the pod need
# kubernetes.podspec-securitycontext, fsGroupChangePolicy is never accepted.
KNATIVE_POD_SECURITY = {"seccompProfile"}
KNATIVE_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation",
    "capabilities",
    "privileged",
    "readOnlyRootFilesystem",
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "seccompProfile",
}


def test_knative_predictors_set_only_security_fields_knative_accepts():
    for isvc in isvcs(chartlib.env_values("production")).values():
        predictor = isvc["spec"]["predictor"]
        assert set(predictor["securityContext"]) == KNATIVE_POD_SECURITY
        assert set(predictor["model"]["securityContext"]) <= KNATIVE_CONTAINER_SECURITY
        assert predictor["model"]["securityContext"]["runAsNonRoot"] is True
        assert predictor["automountServiceAccountToken"] is False
        assert all("emptyDir" in v for v in predictor["volumes"])


def test_standard_predictors_get_the_full_pod_security_context():
    for isvc in isvcs(chartlib.ci_values("04-standard-http-values.yaml")).values():
        pod = isvc["spec"]["predictor"]["securityContext"]
        assert (pod["runAsNonRoot"], pod["runAsUser"], pod["fsGroup"]) == (True, 1000, 1000)


def test_predictor_pods_carry_the_release_labels_and_identity():
    values = chartlib.ci_values("05-canary-identity-values.yaml")
    for track, isvc in isvcs(values).items():
        predictor = isvc["spec"]["predictor"]
        assert predictor["labels"]["app.kubernetes.io/instance"] == chartlib.RELEASE
        assert predictor["labels"]["app.kubernetes.io/component"] == "predictor"
        assert predictor["labels"]["spam-platform/track"] == track
        assert predictor["labels"]["azure.workload.identity/use"] == "true"
        assert predictor["serviceAccountName"] == "spam-platform-inference"
        assert predictor["imagePullSecrets"] == [{"name": "acr-pull"}]


def test_servingruntime_pins_triton_and_both_tracks_use_it():
    docs = chartlib.render_docs(chartlib.ci_values("04-standard-http-values.yaml"))
    runtime = chartlib.only(docs, "ServingRuntime").body
    assert runtime["apiVersion"] == "serving.kserve.io/v1alpha1"
    (main,) = runtime["spec"]["containers"]
    assert main["image"] == "nvcr.io/nvidia/tritonserver:24.10-py3"
    assert "--model-store=/mnt/models" in main["args"]
    assert runtime["spec"]["supportedModelFormats"] == [
        {"name": "triton", "version": "2", "autoSelect": False}
    ]
    for isvc in (d.body for d in docs if d.kind == "InferenceService"):
        assert isvc["spec"]["predictor"]["model"]["runtime"] == runtime["metadata"]["name"]


def test_an_existing_runtime_is_named_and_none_is_created():
    values = chartlib.minimal_values(
        {"inference": {"servingRuntime": {"existing": "kserve-tritonserver"}}}
    )
    docs = chartlib.render_docs(values)
    assert "ServingRuntime" not in chartlib.kinds(docs)
    for isvc in isvcs(values).values():
        assert isvc["spec"]["predictor"]["model"]["runtime"] == "kserve-tritonserver"


# ------------------------------------------------------------------ tests/test-triton-ready.yaml


def triton_script(values, track):
    docs = chartlib.render_docs(values)
    pod = chartlib.only(docs, "Pod", f"spam-platform-inference-test-triton-{track}").body
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    return pod["spec"]["containers"][0]["command"][-1]


def printf_b(escaped: str) -> bytes:
    """What `printf '%b'` writes for a string of \\0NNN octal escapes and plain characters."""
    return re.sub(r"\\0?([0-7]{1,3})", lambda m: chr(int(m.group(1), 8)), escaped).encode("latin-1")


def grpc_frame(message: bytes) -> bytes:
    return b"\x00" + len(message).to_bytes(4, "big") + message


@pytest.mark.parametrize("model", ["spam-detector", "m"])
@pytest.mark.parametrize("track", TRACKS)
def test_grpc_hook_sends_serverready_and_a_valid_modelready_frame(track, model):
    values = chartlib.minimal_values({"global": {"model": {"name": model}}})
    script = triton_script(values, track)
    host = f"spam-platform-{track}-predictor.{chartlib.NAMESPACE}.svc.cluster.local:80"
    assert f"http://{host}/inference.GRPCInferenceService/$1" in script
    assert "--http2-prior-knowledge" in script
    frames = dict(re.findall(r"^call (\w+) '([^']*)'$", script, flags=re.M))
    assert printf_b(frames["ServerReady"]) == grpc_frame(b"")
    # ModelReadyRequest { string name = 1; }: tag 0x0a, length, name
    name = model.encode()
    assert printf_b(frames["ModelReady"]) == grpc_frame(b"\x0a" + bytes([len(name)]) + name)
    assert "*0801" in script  # `ready: true` ends the answer


@pytest.mark.parametrize(
    ("mode", "protocol"), [("Knative", "http"), ("Standard", "grpc"), ("Standard", "http")]
)
def test_http_hook_checks_server_and_model_readiness(mode, protocol):
    values = chartlib.minimal_values(
        {
            "global": {"serving": {"deploymentMode": mode, "protocol": protocol}},
            "inference": {"tracks": {"staging": {"minReplicas": 1}}},
        }
    )
    for track in TRACKS:
        script = triton_script(values, track)
        assert (
            f"http://spam-platform-{track}-predictor.{chartlib.NAMESPACE}.svc.cluster.local:80"
            in script
        )
        assert "/v2/health/ready /v2/models/spam-detector/ready" in script
        assert "--http2-prior-knowledge" not in script
