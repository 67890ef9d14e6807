import sys
import subprocess

from edgekit import reference


def test_models_json_lists_the_32_seed_models(run_cli):
    result = run_cli("models", "--json", check=True)
    rows = result.json()
    assert len(rows) == 32
    names = [r["name"] for r in rows]
    assert names[0] == "MobileNetV1_x0_25" and "MobileNetV3_large_x1_0_ssld_int8" in names
    for row in rows:
        for key in ("name", "family", "top1", "flops_g", "params_m", "sd855_ms", "storage_mb"):
            assert key in row
    int8 = rows[names.index("MobileNetV3_large_x1_0_ssld_int8")]
    assert int8["flops_g"] is None and int8["params_m"] is None
    assert int8["top1"] == 0.761 and int8["storage_mb"] == 10.0 and int8["sd855_ms"] == 14.395


def test_models_family_filter_and_sort(run_cli):
    rows = run_cli("models", "--family", "ShuffleNetV2", "--sort", "sd855_ms", "--json", check=True).json()
    assert {r["family"] for r in rows} == {"ShuffleNetV2"}
    assert len(rows) == 7
    latencies = [r["sd855_ms"] for r in rows]
    assert latencies == sorted(latencies)
    assert rows[0]["name"] == "ShuffleNetV2_x0_25"


def test_models_reverse_sort_puts_missing_values_last(run_cli):
    rows = run_cli("models", "--sort", "params_m", "--reverse", "--json", check=True).json()
    assert rows[0]["name"] == "MobileNetV2_x2_0"
    assert rows[-1]["params_m"] is None


def test_models_bad_options_are_one_line_errors(run_cli):
    for args in (("models", "--family", "ResNet"), ("models", "--sort", "speed")):
        result = run_cli(*args)
        assert result.returncode == 2
        assert result.stderr.startswith("edgekit: error:")
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


def test_reference_table_matches_seed_values():
    row = reference.get_reference("MobileNetV3_large_x1_0")
    assert (row.top1, row.top5, row.ref_top1, row.flops_g, row.params_m) == (0.753, 0.923, 0.752, 0.45, 5.47)
    assert (row.sd855_ms, row.storage_mb, row.t4_fp16_bs1_ms, row.t4_fp32_bs8_ms) == (19.308, 21.0, 2.20149, 4.53184)
    assert reference.get_reference("MobileNetV2_x0_5").ref_top5 == 0.864


def test_cheap_commands_do_not_import_paddle():
    probe = (
        "import sys\n"
        "from edgekit.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('paddle', 'paddleslim', 'paddlelite', 'cv2'))\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    for args in (["--help"], ["--version"], ["models"], ["models", "--json"]):
        proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
        assert "HEAVY=" in proc.stderr
        assert proc.stderr.split("HEAVY=")[1].strip() == "", f"edgekit {' '.join(args)} imported paddle"
