"""Security settings and the Space deployment, checked from the files themselves."""

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = [p for p in [ROOT / "app.py", *(ROOT / "app_pages").glob("*.py"), *(ROOT / "resnet_explain").rglob("*.py"),
                    *(ROOT / "scripts").glob("*.py")]]


def test_streamlit_security_settings():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    server = cfg["server"]
    assert server.get("enableXsrfProtection", True) is True
    assert server.get("enableCORS", True) is True
    # lax where the app is served over plain http (a laptop, a workshop LAN: tests/e2e/test_e2e_lan.py);
    # none, which needs HTTPS, only where the Space embeds it in a cross-site iframe
    assert server["xsrfCookieSameSite"] == "lax"
    assert '"--server.xsrfCookieSameSite=none"]' in (ROOT / "Dockerfile").read_text()
    assert server["maxUploadSize"] <= 5
    assert cfg["browser"]["gatherUsageStats"] is False


def _calls(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _name(call: ast.Call) -> str:
    f = call.func
    parts = []
    while isinstance(f, ast.Attribute):
        parts.append(f.attr)
        f = f.value
    if isinstance(f, ast.Name):
        parts.append(f.id)
    return ".".join(reversed(parts))


# The one script the app runs: the sidebar's theme sync, a constant template whose only
# substitutions are whitelisted (tests/unit/test_stage.py checks every value it can take).
JS_ALLOWED = {("sidebar.py", "theme_sync_js")}


def test_no_unsafe_html_and_html_only_with_constants():
    for path in CODE:
        for call in _calls(path):
            arg = call.args[0] if call.args else None
            js = (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name)
                  and (path.name, arg.func.id) in JS_ALLOWED)
            for kw in call.keywords:
                unsafe = (kw.arg in ("unsafe_allow_html", "unsafe_allow_javascript")
                          and isinstance(kw.value, ast.Constant) and kw.value.value is True)
                assert not unsafe or (kw.arg == "unsafe_allow_javascript" and js), path
            if _name(call) in ("st.html", "st.markdown.html"):
                # only module-level constants reach st.html (stylesheets, the theme script), never user text
                assert (isinstance(arg, ast.Name) and arg.id.isupper()) or js, f"{path}: st.html({ast.dump(arg)})"


def test_torch_load_only_with_weights_only():
    found = 0
    for path in CODE + list((ROOT / "tests").rglob("*.py")):
        for call in _calls(path):
            if _name(call) == "torch.load":
                found += 1
                kws = {kw.arg: kw.value for kw in call.keywords}
                assert "weights_only" in kws and getattr(kws["weights_only"], "value", None) is True, path
    assert found >= 1


def test_nothing_uploaded_is_unpickled():
    for path in CODE:
        text = path.read_text()
        assert not re.search(r"^\s*import pickle|^\s*from pickle|pickle\.loads?\(", text, re.M), path
    upload = (ROOT / "resnet_explain" / "data" / "upload.py").read_text()
    assert "torch.load" not in upload and "np.load" not in upload
    for path in (ROOT / "app_pages").glob("*.py"):
        for call in _calls(path):
            if _name(call).endswith("file_uploader"):
                kws = {kw.arg: kw.value for kw in call.keywords}
                types = ast.literal_eval(kws["type"])
                assert set(types) <= {"png", "jpg", "jpeg"}, path


def _front_matter() -> dict:
    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n"), "README must open with Space front matter"
    block = text.split("---\n", 2)[1]
    out = {}
    for line in block.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip().strip('"')
    return out


def test_readme_front_matter_for_a_docker_space():
    fm = _front_matter()
    assert fm["sdk"] == "docker"
    assert fm["app_port"] == "8501"
    for key in ("title", "emoji", "short_description"):
        assert fm.get(key), key
    assert len(fm["short_description"]) <= 60


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", setup)


def test_readme_has_exactly_two_setup_commands_and_ci_uses_the_second():
    cmds = _readme_commands()
    assert len(cmds) == 2, cmds
    app_cmd, test_cmd = cmds
    assert "streamlit run app.py" in app_cmd and "pip install -r requirements.txt" in app_cmd
    assert test_cmd.strip() == "bash scripts/test.sh"
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_dockerfile_matches_the_readme():
    docker = (ROOT / "Dockerfile").read_text()
    app_cmd = _readme_commands()[0]
    install, run = [c.strip() for c in app_cmd.split("&&")]
    assert install.replace("pip install", "").strip() in docker  # -r requirements.txt
    assert re.search(r'CMD \["streamlit", "run", "app.py"', docker)
    assert "EXPOSE 8501" in docker and "--server.port=8501" in docker
    assert re.search(r"useradd .*-u 1000", docker) and "USER user" in docker
    assert "HEALTHCHECK" in docker and "/_stcore/health" in docker
    assert "torch==2.13.0" in docker and "/whl/cpu" in docker
    req = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^torch==2\.13\.0$", req, re.M)


def test_the_direct_space_address_comes_from_space_host_only():
    from resnet_explain.ui.share import direct_address

    assert direct_address({"SPACE_HOST": "owner-resnet-explain.hf.space"}) == "https://owner-resnet-explain.hf.space"
    assert direct_address({}) is None
    assert direct_address({"SPACE_HOST": "evil.example/\"><script>"}) is None


def test_the_server_runs_on_uvloop_and_httptools():
    """A fresh visitor costs the server ~0.07 CPU-s less with the event loop and HTTP parser in C
    (scripts/bench_pages.py --cpu, issue 24): requirements installs both and Streamlit picks them up."""
    import uvicorn.config
    from streamlit.web import bootstrap

    req = (ROOT / "requirements.txt").read_text()
    assert re.search(r'^uvloop==[\d.]+; sys_platform != "win32"$', req, re.M)
    assert re.search(r"^httptools==[\d.]+$", req, re.M)
    assert bootstrap._get_uvloop_loop_factory() is not None  # Streamlit runs its server loop on it
    assert uvicorn.config.HTTP_PROTOCOLS["auto"].endswith("AutoHTTPProtocol")
    from uvicorn.protocols.http.auto import AutoHTTPProtocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    assert AutoHTTPProtocol is HttpToolsProtocol  # uvicorn's "auto" (Streamlit's default) is httptools
