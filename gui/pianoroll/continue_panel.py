"""The piano roll's Continue panel: the composer (engine/tasks/music.py picks the model: the
composer when shipped, else the Music Transformer) continues the selection (or the track) as a job; its variations are auditioned as a green preview and one is accepted as an undo step."""

from __future__ import annotations

import math

from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dataclasses import replace

from engine.jobs import Priority
from engine.midi.score import Note
from engine.models.music_transformer.options import BARS, TEMPERATURE, TOP_P, VARIATIONS
from engine.tasks import music as music_jobs


class ContinueMixin:
    """Part of :class:`gui.pianoroll.view.PianoRollView`: the panel, its generation job and its variations."""

    def _build_continue_panel(self) -> QWidget:
        """The Continue row, hidden until asked for; its options are kept as ``continue/<option>``."""
        panel = QWidget()
        panel.setObjectName("continuePanel")
        # the ranges are the engine's, the same the `motet continue` parser checks (DESIGN.md §8)
        def saved(key: str, default: float) -> float:
            """A stored setting, or the default when the settings file holds something else."""
            try:
                value = float(self.settings.value(f"continue/{key}", default))
            except (TypeError, ValueError):
                return default
            return value if math.isfinite(value) else default

        self.bars_spin = QSpinBox()
        self.bars_spin.setRange(*BARS)
        self.bars_spin.setValue(int(saved("bars", 4)))
        self.bars_spin.setSuffix(" bars")
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(*TEMPERATURE)
        self.temperature_spin.setSingleStep(0.05)
        self.temperature_spin.setValue(saved("temperature", 1.0))
        self.top_p_spin = QDoubleSpinBox()
        self.top_p_spin.setRange(*TOP_P)
        self.top_p_spin.setSingleStep(0.01)
        self.top_p_spin.setValue(saved("top_p", 0.95))
        self.variations_spin = QSpinBox()
        self.variations_spin.setRange(*VARIATIONS)
        self.variations_spin.setValue(int(saved("variations", 3)))
        self.generate_button = QPushButton("Generate")
        self.variation_combo = QComboBox()  # its width is fixed: long entries are elided, the window keeps its size
        self.variation_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.variation_combo.setMinimumContentsLength(22)
        self.audition_button = QPushButton("▶ Audition")
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Insert the variation into the track (one undoable step)")
        self.discard_button = QPushButton("Close")
        self.continue_subject = QLabel("")  # what Continue continues: the selection or the whole track
        self.continue_subject.setObjectName("continueSubject")
        self.continue_subject.setToolTip("Continue carries on the selected notes, or the whole track when nothing "
                                         "is selected (click an empty spot to clear the selection; Ctrl+A selects all)")
        self.continue_status = QLabel("")
        self.continue_status.setStyleSheet("color: #666;")
        # a long status never widens the window (it was 1024 -> 1215 px with the options on one row)
        self.continue_status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        rows = QVBoxLayout(panel)
        rows.setContentsMargins(0, 0, 0, 0)
        subject, options, results = QHBoxLayout(), QHBoxLayout(), QHBoxLayout()
        # its own row, so that a long text never widens the page
        self.continue_subject.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        subject.addWidget(QLabel("<b>Continue</b>"))
        subject.addWidget(self.continue_subject, 1)
        for w in (self.bars_spin, QLabel("Temperature"), self.temperature_spin,
                  QLabel("Top-p"), self.top_p_spin, QLabel("Variations"), self.variations_spin, self.generate_button):
            options.addWidget(w)
        options.addStretch(1)
        for w in (self.variation_combo, self.audition_button, self.accept_button, self.discard_button):
            results.addWidget(w)
        results.addWidget(self.continue_status, 1)
        rows.addLayout(subject)
        rows.addLayout(options)
        rows.addLayout(results)
        self.generate_button.clicked.connect(self.generate_continuation)
        self.variation_combo.currentIndexChanged.connect(self._show_variation)
        self.audition_button.clicked.connect(self.audition)
        self.accept_button.clicked.connect(self.accept_continuation)
        self.discard_button.clicked.connect(self.close_continue)
        self._variations: list[list[Note]] = []
        self._continue_job: int | None = None
        self._continue_from = 0  # the end of the notes being continued: no new note starts before it
        self.doc.selectionChanged.connect(self._update_continue_subject)
        self.doc.changed.connect(self._update_continue_subject)
        panel.hide()
        self._update_continue_buttons()
        return panel

    def continue_subject_text(self) -> str:
        """What Continue continues, as the panel says it: "the selection: 1 note", "the whole track: 25 notes"."""
        selected = len(self.doc.selection)
        count = selected or len(self.doc.notes)
        if not count:
            return "nothing to continue: draw or select some notes"
        what = "the selection" if selected else "the whole track"
        end = max(n.end for n in self.prompt_notes())
        score = self.doc.score
        per_bar = max(1, score.ticks_per_bar)
        per_beat = max(1, per_bar // max(1, score.time_signature.numerator))
        bar, beat = end // per_bar + 1, end % per_bar // per_beat + 1
        where = f"bar {bar}" if end % per_bar == 0 else f"bar {bar}, beat {beat}"
        return f"{what}: {count} note{'s' * (count != 1)}, new notes after it (from {where})"

    def _update_continue_subject(self) -> None:
        if hasattr(self, "continue_subject"):
            self.continue_subject.setText(self.continue_subject_text())

    def show_continue(self) -> None:
        self._update_continue_subject()
        self.continue_panel.show()
        self.generate_button.setFocus()

    def close_continue(self) -> None:
        if self._continue_job is not None:
            self.queue.cancel(self._continue_job)
        self._variations = []
        self.canvas.preview_notes = []
        self.canvas.update()
        self.variation_combo.clear()
        self.continue_panel.hide()
        self._update_continue_buttons()

    def _update_continue_buttons(self) -> None:
        has = bool(self._variations)
        for w in (self.variation_combo, self.audition_button, self.accept_button):
            w.setEnabled(has)
        self.generate_button.setText("Cancel" if self._continue_job is not None else
                                     ("Regenerate" if has else "Generate"))

    def prompt_notes(self) -> list[Note]:
        """The selection, or the whole current track when nothing is selected."""
        return sorted(self.doc.selection) or list(self.doc.notes)

    def generate_continuation(self) -> int | None:
        """Run the continuation as a job (gpu lane, progress, Cancel); returns its id."""
        if self._continue_job is not None:
            self.queue.cancel(self._continue_job)
            return None
        prompt = self.prompt_notes()
        if not prompt:
            self.banner.show_message("There is nothing to continue: draw or select some notes first.", "error")
            return None
        for key, w in (("bars", self.bars_spin), ("temperature", self.temperature_spin),
                       ("top_p", self.top_p_spin), ("variations", self.variations_spin)):
            self.settings.setValue(f"continue/{key}", w.value())
        score = self.doc.score.copy()
        self._continue_from = max(n.end for n in prompt)
        bars, variations = self.bars_spin.value(), self.variations_spin.value()
        temperature, top_p = self.temperature_spin.value(), self.top_p_spin.value()

        job = self.queue.submit(music_jobs.continue_motif, score, prompt, bars, variations, temperature, top_p,
                                kind="continue", title=f"Continue {len(prompt)} notes · {bars} bars",
                                priority=Priority.INTERACTIVE, lane="gpu")
        self._continue_job = job.id
        self.bridge.watch(job.id, on_finished=self._continue_finished,
                          on_failed=lambda message, _: self._continue_failed(message),
                          on_cancelled=lambda: self._continue_ended("cancelled"),
                          on_progress=self._continue_progress)
        self.continue_status.setText("generating…")
        self._update_continue_buttons()
        return job.id

    def _continue_finished(self, variations) -> None:
        # a continuation starts after the end of what it continues, never inside it: a note that
        # starts earlier keeps only its part after that end (none: it is left out)
        start = self._continue_from
        self._variations = [sorted(n if n.start >= start else replace(n, start=start, duration=n.end - start)
                                   for n in v if n.end > start) for v in variations]
        self.variation_combo.blockSignals(True)
        self.variation_combo.clear()
        for i, v in enumerate(self._variations, start=1):
            self.variation_combo.addItem(f"Variation {i} ({len(v)} notes)")
        self.variation_combo.blockSignals(False)
        self._show_variation()
        self._continue_ended(f"{len(self._variations)} variation{'s' * (len(self._variations) != 1)}")

    def _continue_progress(self, fraction: float | None, _message: str) -> None:
        if fraction is not None:
            self.continue_status.setText(f"generating… {fraction * 100:.0f}%")

    def _continue_failed(self, message: str) -> None:
        self.banner.show_message(f"Could not continue the motif: {message}", "error")
        self._continue_ended("")

    def _continue_ended(self, status: str) -> None:
        self._continue_job = None
        self.continue_status.setText(status)
        self._update_continue_buttons()

    def _show_variation(self, *_: object) -> None:
        i = self.variation_combo.currentIndex()
        self.canvas.preview_notes = self._variations[i] if 0 <= i < len(self._variations) else []
        self.canvas.update()

    def audition(self) -> None:
        """Play the prompt and the variation shown, from the prompt's start."""
        prompt = self.prompt_notes()
        if not self.canvas.preview_notes or not prompt:
            return
        score = music_jobs.with_notes(self.doc.score, self.doc.current, self.canvas.preview_notes)
        self.play(score=score, start=min(n.start for n in prompt))

    def accept_continuation(self) -> None:
        if self.canvas.preview_notes:
            # the selection is cleared: the next Continue continues the whole track, not just these notes
            self.doc.replace_notes([], self.canvas.preview_notes, "Continue", select=None)
            self.statusMessage.emit(f"Inserted {len(self.canvas.preview_notes)} notes")
        self.close_continue()
