"""The piano roll's toolbar: file name, track and instrument, transport, tempo and time signature,
tools, snap and quantize, and Continue."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
)

from engine.midi.instruments import GM_PROGRAMS
from gui.common.settings import Keys

SNAPS = [("1/4", 1, 1), ("1/8", 1, 2), ("1/16", 1, 4), ("1/32", 1, 8),
         ("1/4 triplet", 2, 3), ("1/8 triplet", 1, 3), ("1/16 triplet", 1, 6), ("1/32 triplet", 1, 12), ("Off", 0, 1)]


class RollToolbarMixin:
    """Part of :class:`gui.pianoroll.view.PianoRollView`: its three toolbar rows and their handlers."""

    def _build_toolbar(self) -> tuple[QHBoxLayout, QHBoxLayout, QHBoxLayout]:
        """The file, transport and editing rows (laid out by the view)."""
        self.file_label = QLabel()
        self.play_button = QPushButton("▶ Play")
        self.play_button.setToolTip("Play from the playhead (Space)")
        self.loop_button = QToolButton()
        self.loop_button.setText("Loop")
        self.loop_button.setCheckable(True)
        self.loop_button.setToolTip("Play the loop region over and over (drag in the ruler to set it)")
        self.draw_button = QToolButton()
        self.draw_button.setText("✎ Draw")
        self.draw_button.setCheckable(True)
        self.draw_button.setChecked(True)
        self.draw_button.setToolTip("Draw tool (D): click to add a note, drag to set its length")
        self.select_button = QToolButton()
        self.select_button.setText("⬚ Select")
        self.select_button.setCheckable(True)
        self.select_button.setToolTip("Select tool (S): drag a marquee")
        self.snap_combo = QComboBox()
        for name, _, _ in SNAPS:
            self.snap_combo.addItem(name)
        self.snap_combo.setToolTip("Snap to grid")
        self.tempo_spin = QDoubleSpinBox()
        self.tempo_spin.setRange(20, 400)
        self.tempo_spin.setDecimals(1)
        self.tempo_spin.setSuffix(" BPM")
        self.sig_num = QSpinBox()
        self.sig_num.setRange(1, 32)
        self.sig_den = QComboBox()
        for d in (2, 4, 8, 16):
            self.sig_den.addItem(str(d), d)
        self.track_combo = QComboBox()
        self.track_combo.setToolTip("The track being edited; the others show as grey ghost notes")
        self.program_combo = QComboBox()  # the General MIDI names, numbered as synthesizers show them
        for number, name in enumerate(GM_PROGRAMS, 1):
            self.program_combo.addItem(f"{number} {name}")
        self.program_combo.setMaxVisibleItems(16)
        self.program_combo.setToolTip("The track's General MIDI instrument")
        self.quantize_button = QPushButton("Quantize")
        self.quantize_button.setToolTip("Snap the selected notes to the grid (Q)")
        self.strength_spin = QSpinBox()
        self.strength_spin.setRange(0, 100)
        self.strength_spin.setValue(100)
        self.strength_spin.setSuffix(" %")
        self.strength_spin.setToolTip("Quantize strength")

        self.track_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.track_combo.setMinimumContentsLength(14)
        bar1 = QHBoxLayout()  # three short rows: the page fits an 800-pixel-wide window
        bar1.addWidget(self.file_label, 1)
        for w in (QLabel("Track:"), self.track_combo, QLabel("Instrument:"), self.program_combo):
            bar1.addWidget(w)
        bar2 = QHBoxLayout()
        for w in (self.play_button, self.loop_button, QLabel("Tempo:"), self.tempo_spin, QLabel("Time:"),
                  self.sig_num, QLabel("/"), self.sig_den):
            bar2.addWidget(w)
        bar2.addStretch(1)
        bar3 = QHBoxLayout()
        for w in (self.draw_button, self.select_button, QLabel("Snap:"), self.snap_combo, self.quantize_button,
                  self.strength_spin):
            bar3.addWidget(w)
        bar3.addStretch(1)
        self.continue_button = QPushButton("Continue…")
        self.continue_button.setToolTip("Let the composer continue the selection (or the track) in kind (C)")
        bar3.addWidget(self.continue_button)
        return bar1, bar2, bar3

    def _sync_toolbar(self) -> None:
        """Show the document's tempo, time signature, tracks and instrument (without echoing edits)."""
        score = self.doc.score
        for w, value in ((self.tempo_spin, round(score.bpm, 1)), (self.sig_num, score.time_signature.numerator)):
            w.blockSignals(True)
            w.setValue(value)
            w.blockSignals(False)
        self.program_combo.blockSignals(True)
        self.program_combo.setCurrentIndex(self.doc.track.program)
        self.program_combo.blockSignals(False)
        self.sig_den.blockSignals(True)
        self.sig_den.setCurrentIndex(max(0, self.sig_den.findData(score.time_signature.denominator)))
        self.sig_den.blockSignals(False)
        self.track_combo.blockSignals(True)
        self.track_combo.clear()
        for i, t in enumerate(score.tracks):
            self.track_combo.addItem(f"{i + 1}. {t.name or 'Track'} ({len(t.notes)})")
        self.track_combo.setCurrentIndex(self.doc.current)
        self.track_combo.blockSignals(False)
        self.program_combo.setEnabled(not self.doc.track.is_drums)

    def _update_title(self, *_: object) -> None:
        example = getattr(self, "opened_example", None)
        if self.doc.path:
            name = Path(self.doc.path).name
        elif example:  # a shipped motif: its name, and that Save makes a copy elsewhere
            name = f"{example} (example)"
        else:
            name = "Untitled"
        try:
            star = "" if self.doc.undo_stack.isClean() else " *"
        except RuntimeError:  # the stack is being destroyed with the view
            return
        self.file_label.setText(f"<b>{name}{star}</b>")

    def set_tool(self, tool: str) -> None:
        self.canvas.tool = tool
        self.draw_button.setChecked(tool == "draw")
        self.select_button.setChecked(tool == "select")

    def _snap_changed(self) -> None:
        _, num, den = SNAPS[self.snap_combo.currentIndex()]
        self.geo.snap = self.doc.score.ticks_per_beat * num // den if num else 0
        self.settings.setValue(Keys.ROLL_SNAP, self.snap_combo.currentIndex())
        self.canvas.update()

    def _signature_changed(self) -> None:
        self._guard(self.doc.set_time_signature, self.sig_num.value(), self.sig_den.currentData())
