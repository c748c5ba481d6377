"""The Record view's input devices: list them, remember the chosen one, say why none can be used."""

from __future__ import annotations

from PySide6.QtCore import Qt

from engine.audio import devices as audio_devices
from engine.audio.devices import AudioDevice, AudioUnavailable
from gui.common.settings import Keys, get_str


def device_label(d: AudioDevice) -> str:
    """"Built-in Microphone  ·  48 kHz  (default)"; a monitor of an output says so."""
    label = f"{d.name}  ·  {d.default_samplerate / 1000:g} kHz"
    if d.is_monitor and not d.name.lower().startswith("monitor"):
        label += "  (output monitor)"
    if d.is_default_input:
        label += "  (default)"
    return label


class InputDevicesMixin:
    """Part of :class:`gui.record.view.RecordView`: the device combo box and its Refresh button."""

    def refresh_devices(self, rescan: bool = False) -> None:
        if self.session is not None:
            return  # never swap devices under a running recording
        reason = ""
        self.stop_monitoring()  # the list (and the chosen device) may change under it
        if rescan:
            self.stop_playback()  # re-initialising PortAudio ends every open stream
            try:
                audio_devices.rescan()
            except AudioUnavailable as exc:
                reason = str(exc)
        try:
            devices = audio_devices.recording_inputs()  # the sound server's sources by name, if any
        except AudioUnavailable as exc:
            devices, reason = [], str(exc)
        wanted = get_str(self.settings, Keys.AUDIO_INPUT_DEVICE) or None
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for d in devices:
            self.device_combo.addItem(device_label(d), d)
            if d.is_monitor:
                self.device_combo.setItemData(self.device_combo.count() - 1,
                                              "What this output plays (not a microphone)",
                                              Qt.ItemDataRole.ToolTipRole)
        chosen = next((i for i, d in enumerate(devices) if wanted and d.matches(wanted)), None)
        if chosen is None:
            chosen = next((i for i, d in enumerate(devices) if d.is_default_input), 0)
        if devices:
            self.device_combo.setCurrentIndex(chosen)
        self.device_combo.blockSignals(False)
        has_input = bool(devices)
        self.record_button.setEnabled(has_input)
        self.device_combo.setEnabled(has_input)
        if has_input:
            self.reason_label.hide()
        else:
            why = f" ({reason})" if reason else ""
            self.reason_label.setText(
                f"Recording is unavailable: no audio input device was found{why}. "
                "Connect a microphone, then press Refresh.")
            self.reason_label.show()
        self.inputChanged.emit(self.input_description())
        self.start_monitoring()

    def current_device(self) -> AudioDevice | None:
        return self.device_combo.currentData()

    def input_description(self) -> str:
        d = self.current_device()
        return d.name if d else "No audio input"

    def _device_changed(self, _index: int) -> None:
        d = self.current_device()
        if d is not None:
            self.settings.setValue(Keys.AUDIO_INPUT_DEVICE, d.source or d.name)  # the server's name is stable
        self.inputChanged.emit(self.input_description())
        if self.session is None:
            self._restart_monitoring()
