"""The dashboard in a real browser: Debian's Chromium driven by Playwright against a live server
on loopback. Sign in, the catalog, a model page with its card and plots, the tabular try-it form
with its explained answer, the audit trail, and the page a role without access gets. Each page
is screenshotted into test-artifacts/dashboard/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import breast_cancer_frame
from tests.integration.test_serving import live_server

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("MEDMAAS_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
#: as the machine's closed network needs: no background connections, no sandbox as root
FHIR_MODEL = "heart-failure-mortality"
EXAMPLE_BUNDLES = Path(__file__).resolve().parents[2] / "examples" / "fhir" / "r4"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def server(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    home = tmp_path_factory.mktemp("dashboard") / "home"
    shutil.copytree(trained_home, home)
    _add_note_and_ecg_models(home)
    with live_server(home) as (base, keys, state):
        keys["admin"] = state.keys.create("Dr Admin", "admin", created_by="test")[0]
        yield base, keys


def _add_note_and_ecg_models(home: Path) -> None:
    """A small note classifier, an ECG beat model, an ICU stay model and a 3D image model beside the trained home's
    tables and images,
    so every kind's try-it view is exercised. Trained small: what is tested is the page."""
    from tests.image_builders import blob_dataset
    from tests.signal_builders import beat_dataset
    from tests.text_builders import note_dataset
    from tests.timeseries_builders import timeseries_dataset

    from medmaas.builtin.build import build_one
    from medmaas.builtin.catalog import builtin
    from medmaas.registry import Registry
    from medmaas.settings import Settings
    from medmaas.training.train import TrainOptions, train_model

    registry = Registry.open(Settings(home=home))
    try:
        for name, dataset, options in (
            ("side-effects", note_dataset(n=120), TrainOptions(kind="text", candidates=["tfidf"], n_boot=50, cv_folds=2,
                                                              kind_options={"max_tokens": 64, "quantize": False})),
            ("ecg", beat_dataset(n_records=4, seconds=30), TrainOptions(kind="signal", candidates=["gradient-boosting"],
                                                                        n_boot=50, cv_folds=2)),
            ("icu", timeseries_dataset(n=120, seed=1), TrainOptions(kind="timeseries", candidates=["gradient-boosting"],
                                                                    n_boot=50, kind_options={"trees": 30})),
            ("volumes", blob_dataset(n=48, size=12, spatial_dims=3, seed=1, with_splits=True),
             TrainOptions(kind="image", n_boot=50, kind_options={"epochs": 3, "batch_size": 32, "patience": 3,
                                                                 "quantize": False})),
        ):
            result = train_model(dataset, name=name, options=options, registry=registry, actor="test")
            registry.promote(name, int(result.version or 0), "production", actor="test")
        # A table model with a FHIR map (the built-in's own recipe, seconds), for the Bundle try-it.
        build_one(builtin(FHIR_MODEL), registry, None, lambda _message, _fraction: None)
    finally:
        registry.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: scripts/browser.sh installs Debian's chromium")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.problems = problems
    yield page
    context.close()


def sign_in(page: Any, base: str, key: str) -> None:
    page.goto(base + "/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Models").wait_for()


def fill_wdbc_form(page: Any) -> None:
    """The try-it form of "wdbc", filled with the first patient of the data set."""
    for name, value in breast_cancer_frame().drop(columns=["diagnosis"]).iloc[0].items():
        page.locator(f"[name='{name}']").fill(str(value))


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def send_file_and_see(page: Any, base: str, key: str, model: str, files: str | list[str], picture: str) -> Any:
    """Sign in, open ``model``'s page, send ``files`` with "Predict and explain" and wait for the
    answer's picture named ``picture`` (the first, where an answer has several); that picture."""
    sign_in(page, base, key)
    page.goto(base + f"/#/models/{model}")
    page.get_by_label("Files" if isinstance(files, list) else "File").set_input_files(files)
    page.get_by_role("button", name="Predict and explain").click()
    found = page.get_by_role("img", name=picture).first
    found.wait_for()
    assert found.evaluate("img => img.naturalWidth") > 0  # a real PNG, decoded
    return found


def test_sign_in_shows_the_catalog(server: tuple[str, dict[str, str]], page: Any) -> None:
    base, keys = server
    page.goto(base + "/")
    shot(page, "sign-in")
    sign_in(page, base, keys["clinician"])
    rows = page.locator("table tbody tr")
    assert rows.count() == 8  # the trained home's three, a note, an ECG, an ICU, a 3D and a FHIR-mapped model
    text = page.locator("table").inner_text()
    assert "wdbc" in text and "blobs" in text and FHIR_MODEL in text and "AUROC" in text and "95% CI" in text
    assert "clinician" in page.locator("#who").inner_text()
    shot(page, "catalog")
    assert page.problems == []


def test_a_wrong_key_is_refused_in_place(server: tuple[str, dict[str, str]], page: Any) -> None:
    base, keys = server
    page.goto(base + "/")
    page.get_by_label("API key").fill(keys["clinician"][:-4] + "AAAA")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("That key is not valid here.").wait_for()
    assert page.get_by_label("API key").get_attribute("aria-invalid") == "true"


def test_a_model_page_and_its_tabular_form_explain_a_prediction(server: tuple[str, dict[str, str]], page: Any) -> None:
    base, keys = server
    sign_in(page, base, keys["clinician"])
    page.get_by_role("link", name="wdbc").click()
    page.get_by_role("heading", name="Model card").wait_for()
    page.locator(".plot img").first.wait_for()  # fetched with the key, shown from a blob: URL
    assert page.locator(".plot img").count() >= 3
    assert page.get_by_role("button", name="Promote to production").count() == 0  # a clinician may not
    fill_wdbc_form(page)
    shot(page, "model")
    page.get_by_role("button", name="Predict and explain").click()
    answer = page.locator("#prediction")
    answer.wait_for()
    text = answer.inner_text()
    assert "P(" in text and "decision threshold" in text and "Why" in text
    assert page.locator("#prediction .bar").count() == 6
    page.locator("[name='mean radius']").fill("")  # not measured: imputed, and the answer says so
    page.get_by_role("button", name="Predict and explain").click()
    page.locator("#prediction .notice").filter(has_text="mean radius").wait_for()
    answer.scroll_into_view_if_needed()
    shot(page, "prediction")
    page.locator("section.panel").screenshot(path=str(ARTIFACTS / "try-it.png"))  # the README shows this one
    assert page.problems == []


def test_an_uploaded_dicom_comes_back_with_its_heat_map(server: tuple[str, dict[str, str]], page: Any,
                                                        tmp_path: Path) -> None:
    from tests.image_builders import blob_images, dicom_bytes

    image = blob_images(1, 16, seed=5)[0][0, 0]
    upload = tmp_path / "chest.dcm"
    upload.write_bytes(dicom_bytes(16, 16, bits=8, pixel_bytes=image.tobytes()))
    base, keys = server
    send_file_and_see(page, base, keys["clinician"], "blobs", str(upload),
                      "Heat map: where the model looked (occlusion), over the image")
    assert "P(" in page.locator("#prediction").inner_text()
    page.locator("section.panel").screenshot(path=str(ARTIFACTS / "try-it-image.png"))
    assert page.problems == []


def test_a_volume_comes_back_with_its_strongest_slice_and_a_montage_of_all(server: tuple[str, dict[str, str]],
                                                                          page: Any, tmp_path: Path) -> None:
    import nibabel as nib
    import numpy as np
    from tests.image_builders import blob_images

    images, labels = blob_images(2, 12, spatial_dims=3, seed=7)
    upload = tmp_path / "scan.nii.gz"
    nib.save(nib.Nifti1Image(images[int(np.argmax(labels)), 0].astype(np.float32), np.eye(4)), str(upload))
    base, keys = server
    send_file_and_see(page, base, keys["clinician"], "volumes", str(upload),
                      "Slices 0 to 11 (12 shown), numbered, on one colour scale")
    assert "the one with the most evidence" in page.locator("#prediction").inner_text()
    page.locator("section.panel").first.screenshot(path=str(ARTIFACTS / "try-it-volume.png"))
    assert page.problems == []


def test_an_unreadable_upload_says_why_in_place(server: tuple[str, dict[str, str]], page: Any, tmp_path: Path) -> None:
    upload = tmp_path / "scan.dcm"
    upload.write_bytes(b"DICM but not really")
    base, keys = server
    sign_in(page, base, keys["clinician"])
    page.goto(base + "/#/models/blobs")
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Predict and explain").click()
    page.locator("#upload-error").filter(has_text="scan.dcm").wait_for()
    assert page.get_by_label("File").get_attribute("aria-invalid") == "true"


def test_a_fhir_bundle_comes_back_as_a_risk_assessment_with_its_reasons(server: tuple[str, dict[str, str]],
                                                                        page: Any, tmp_path: Path) -> None:
    bundle = next(EXAMPLE_BUNDLES.glob("Renato_Dare_*.json"))
    base, keys = server
    sign_in(page, base, keys["clinician"])
    page.goto(base + f"/#/models/{FHIR_MODEL}")
    page.get_by_role("heading", name="Or a patient's FHIR R4 Bundle").wait_for()
    page.get_by_label("Bundle (JSON)").set_input_files(str(bundle))
    page.get_by_label("As of (optional)").fill("2020-09-07")
    page.get_by_role("button", name="Predict from the record").click()
    answer = page.locator("#risk-assessment")
    answer.wait_for()
    text = answer.inner_text()
    assert "Risk level: " in text and "Largest contributions to the predicted probability (SHAP)" in text
    probability = float(text.split(": ", 1)[1].split()[0])  # "<outcome>: 0.132"
    assert 0.0 <= probability <= 1.0
    page.locator("section.panel").first.screenshot(path=str(ARTIFACTS / "try-it-fhir.png"))
    assert page.problems == []
    # Not FHIR: the OperationOutcome's words, under the field (the browser logs the 422 itself).
    wrong = tmp_path / "rows.json"
    wrong.write_text('{"rows": []}')
    page.get_by_label("Bundle (JSON)").set_input_files(str(wrong))
    page.get_by_role("button", name="Predict from the record").click()
    page.locator("#bundle-error").filter(has_text="not a FHIR resource").wait_for()
    assert page.get_by_label("Bundle (JSON)").get_attribute("aria-invalid") == "true"


def test_a_note_is_classified_and_shown_de_identified_with_its_entities(server: tuple[str, dict[str, str]],
                                                                       page: Any) -> None:
    base, keys = server
    sign_in(page, base, keys["clinician"])
    page.goto(base + "/#/models/side-effects")
    page.get_by_label("Clinical note").fill("Seen by Dr. Healey on 2024-03-01, MRN 1234567. Severe nausea after "
                                            "starting metformin. Denies chest pain. History of MI.")
    page.get_by_role("button", name="Classify the note").click()
    note = page.locator("#annotated")
    note.wait_for()
    text = note.inner_text()
    assert "Healey" not in text and "1234567" not in text and "2024-03-01" not in text  # de-identified
    negated = page.locator("#annotated mark.negated")
    assert negated.count() >= 1 and "chest pain" in negated.first.inner_text()
    assert "negated" in negated.first.get_attribute("aria-label")
    assert page.locator("#annotated mark.ent-medication").count() >= 1
    assert "P(" in page.locator("#prediction").inner_text()
    page.locator("section.panel").first.screenshot(path=str(ARTIFACTS / "try-it-note.png"))
    assert page.problems == []


def test_an_ecg_record_comes_back_with_its_salient_segments(server: tuple[str, dict[str, str]], page: Any,
                                                           tmp_path: Path) -> None:
    from tests.signal_builders import record_files

    paths = []
    for name, data in record_files(seconds=10, name="rec").items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    base, keys = server
    send_file_and_see(page, base, keys["clinician"], "ecg", paths,  # a WFDB record: header and data together
                      "The signal, with the segments that weighed most in the answer marked")
    answer = page.locator("#prediction").inner_text()
    assert "beats:" in answer and "Heart rate" in answer and "undefined" not in answer
    page.locator("section.panel").first.screenshot(path=str(ARTIFACTS / "try-it-ecg.png"))
    assert page.problems == []


def test_an_icu_stay_comes_back_with_its_variables_and_hours(server: tuple[str, dict[str, str]], page: Any,
                                                            tmp_path: Path) -> None:
    import numpy as np
    from tests.timeseries_builders import stay_rows

    rows = stay_rows(np.random.default_rng(5), died=True)
    stay = tmp_path / "stay.txt"
    stay.write_text("\n".join(["Time,Parameter,Value"] + [f"{int(t):02d}:{int(t % 1 * 60):02d},{p},{v:.2f}"
                                                         for t, p, v in rows]))
    base, keys = server
    send_file_and_see(page, base, keys["clinician"], "icu", str(stay),
                      "Contribution of each variable and hour of the stay to the answer")
    answer = page.locator("#prediction").inner_text()
    assert "P(" in answer and "measurements" in answer and "undefined" not in answer
    page.locator("section.panel").first.screenshot(path=str(ARTIFACTS / "try-it-icu.png"))
    assert page.problems == []


def test_an_admin_may_promote_from_the_model_page(server: tuple[str, dict[str, str]], page: Any) -> None:
    base, keys = server
    sign_in(page, base, keys["admin"])
    page.goto(base + "/#/models/mixed")
    page.get_by_role("heading", name="Versions").wait_for()
    page.get_by_role("button", name="Promote to production").first.click()
    page.get_by_text("is now production").wait_for()


def test_a_role_without_access_gets_the_not_allowed_page(server: tuple[str, dict[str, str]], page: Any) -> None:
    base, keys = server
    sign_in(page, base, keys["clinician"])
    assert page.get_by_role("link", name="Audit").is_hidden()
    page.goto(base + "/#/audit")
    page.get_by_role("heading", name="Not allowed").wait_for()
    assert "clinician" in page.locator(".forbidden").inner_text()
    shot(page, "forbidden")


def test_an_auditor_sees_the_audit_trail_and_the_chain_status(server: tuple[str, dict[str, str]], page: Any) -> None:
    import httpx

    base, keys = server
    row = breast_cancer_frame().drop(columns=["diagnosis"]).head(1).to_dict(orient="records")
    with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {keys['clinician']}"}) as http:
        for _ in range(120):  # more prediction events than one page of the trail holds
            answer = http.post("/v1/models/wdbc/predict", json={"rows": row})
            assert answer.status_code == 200, answer.text
    sign_in(page, base, keys["auditor"])
    page.get_by_role("link", name="Audit").click()
    page.get_by_text("Hash chain intact").wait_for()
    assert page.locator("table tbody tr").count() >= 1
    page.get_by_label("Action").fill("no.such.action")
    page.get_by_role("button", name="Filter").click()
    page.locator("table caption").filter(has_text="The latest 0 events").wait_for()
    page.get_by_label("Action").fill("model.predict")
    page.get_by_role("button", name="Filter").click()
    page.locator("table tbody tr").first.wait_for()
    assert set(page.locator("table tbody tr td:nth-child(5)").all_inner_texts()) == {"model.predict"}
    shot(page, "audit")
    first_page = _seqs(page)
    assert len(first_page) == 100
    page.get_by_role("button", name="Older events").click()
    page.locator("table caption").filter(has_not_text="latest 100 ").wait_for()
    both = _seqs(page)
    assert len(both) >= 120 and both[:100] == first_page  # the older page is appended below
    assert page.get_by_role("button", name="Older events").is_hidden()  # a short page was the last
    assert both == sorted(both, reverse=True) and len(set(both)) == len(both)  # newest first, none twice
    assert page.problems == []


def _seqs(page: Any) -> list[int]:
    return [int(seq) for seq in page.locator("table tbody tr td:nth-child(1)").all_inner_texts()]


def _accessibility_problems(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations of impact serious or critical on the page as it is."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
    assert len(results.response["passes"]) >= 10  # axe did run: colour contrast, labels, names...
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def test_every_page_passes_axe_and_works_from_the_keyboard(server: tuple[str, dict[str, str]], page: Any) -> None:
    pytest.importorskip("axe_playwright_python")
    base, keys = server
    page.goto(base + "/")
    found = {"sign-in": _accessibility_problems(page)}
    # From the keyboard alone: the key field has the focus, Tab reaches the button, Enter signs in.
    assert page.evaluate("document.activeElement.id") == "key"
    page.keyboard.type(keys["admin"])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Models").wait_for()
    found["catalog"] = _accessibility_problems(page)
    page.goto(base + "/#/models/wdbc")
    page.get_by_role("button", name="Predict and explain").wait_for()
    page.locator(".plot img").first.wait_for()
    fill_wdbc_form(page)
    page.get_by_role("button", name="Predict and explain").click()
    page.locator("#prediction").wait_for()
    found["model and prediction"] = _accessibility_problems(page)
    page.goto(base + "/#/models/side-effects")
    page.get_by_label("Clinical note").fill("Denies chest pain. Started metformin.")
    page.get_by_role("button", name="Classify the note").click()
    page.locator("#annotated").wait_for()
    found["note"] = _accessibility_problems(page)
    page.goto(base + f"/#/models/{FHIR_MODEL}")
    page.get_by_label("Bundle (JSON)").set_input_files(str(next(EXAMPLE_BUNDLES.glob("Renato_Dare_*.json"))))
    page.get_by_role("button", name="Predict from the record").click()
    page.locator("#risk-assessment").wait_for()
    found["FHIR Bundle and its RiskAssessment"] = _accessibility_problems(page)
    page.goto(base + "/#/audit")
    page.get_by_text("Hash chain intact").wait_for()
    found["audit"] = _accessibility_problems(page)
    found = {view: problems for view, problems in found.items() if problems}
    assert found == {}, found


def test_pages_fit_a_phone_screen(server: tuple[str, dict[str, str]], browser: Any) -> None:
    base, keys = server
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, base, keys["clinician"])
        page.goto(base + "/#/models/wdbc")
        page.get_by_role("button", name="Predict and explain").wait_for()
        # Nothing wider than the screen but the tables, which scroll inside their own box.
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than the screen"
        page.screenshot(path=str(ARTIFACTS / "phone-model.png"), full_page=False)
    finally:
        context.close()
