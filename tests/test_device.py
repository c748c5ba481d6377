import pytest
import torch

from engine.device import available_devices, choose_device, choose_dtype, describe


def test_cpu_is_always_available_and_last():
    devices = available_devices()
    assert devices[-1].kind == "cpu"
    assert choose_device("cpu").torch_device == torch.device("cpu")


def test_auto_picks_the_best_and_env_var_is_honoured(monkeypatch):
    assert choose_device("auto") == available_devices()[0]
    monkeypatch.setenv("MOTET_DEVICE", "cpu")
    assert choose_device().kind == "cpu"


def test_unavailable_device_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="not available here; available: cpu"):
        choose_device("cuda")


def test_dtype_choice():
    cpu = choose_device("cpu")
    assert choose_dtype(cpu) is torch.float32
    assert choose_dtype(cpu, "bfloat16") is torch.bfloat16
    with pytest.raises(ValueError, match="unknown"):
        choose_dtype(cpu, "float8")
    assert describe(cpu, torch.float32).endswith("float32")


@pytest.mark.parametrize("text", ["cuda:x", "cuda:-1", "gpu", "tpu", "cpu:0", "cuda:"])
def test_malformed_devices_are_a_clear_error(text):
    from engine.device import DeviceError

    with pytest.raises(DeviceError, match=f"'{text}' is not one of auto, cpu, cuda, cuda:N, mps") as info:
        choose_device(text)
    assert "\n" not in str(info.value)


def test_a_missing_gpu_index_is_a_clear_error():
    from engine.device import DeviceError

    with pytest.raises(DeviceError, match="'cuda:99' is not available here; available: "):
        choose_device("cuda:99")
