"""Generate's results: every stored generation, newest first (the generation library keeps them
across restarts), two lines each: the prompt, then seed, length, model and settings. The selected
one's spectrogram and waveform are shown under the list (its audio read and its spectrogram
computed in a job, never on the GUI thread). Play/Stop (Space), Export… (WAV or FLAC, named
after the prompt, with the prompt in its tags), Delete (the Delete key; confirmed) and Use
settings (the prompt, settings and seed back into the form)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRect, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics, QKeySequence, QPainter, QPalette, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from engine.audio.devices import AudioUnavailable
from engine.audio.generations import Generation, GenerationError, GenerationLibrary
from engine.audio.playback import Player
from engine.audio.takes import safe_filename
from engine.jobs import JobQueue, Priority
from engine.tasks.display import load_generation_preview
from gui.common.settings import Keys, get_str
from gui.common.widgets import Banner, format_duration
from gui.generate.models import one_line
from gui.jobs.bridge import JobsBridge
from gui.spectrogram.static import MAX_STATIC_COLUMNS
from gui.spectrogram.view import SpectrogramView
from gui.transcribe.waveform import WaveformView

GenerationRole = Qt.ItemDataRole.UserRole
SETTING_NAMES = (("guidance", "guidance"), ("temperature", "temperature"), ("top_k", "top-k"), ("top_p", "top-p"))


def details(g: Generation) -> str:
    """The second line of a result: what it takes to make it again."""
    parts = [f"seed {g.seed}", format_duration(g.seconds), g.model]
    variation, count = g.settings.get("variation"), g.settings.get("variations")
    if variation:  # first: the line is cut on the right, and this is what tells a batch's results apart
        parts.insert(0, f"variation {variation} of {count}" if count else f"variation {variation}")
    for key, name in SETTING_NAMES:
        if key in g.settings:
            value = g.settings[key]
            parts.append(f"{name} {'off' if key in ('top_k', 'top_p') and not value else f'{value:g}'}")
    if g.settings.get("continued_from"):
        parts.append(f"continues {g.settings['continued_from']}")
    return " · ".join(parts)


class ResultsList(QListWidget):
    """The results, saying what to do while there are none."""

    EMPTY = "No music yet: type a prompt and press Generate."

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().paintEvent(event)
        if self.count() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect().adjusted(8, 8, -8, -8),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.EMPTY)


class ResultDelegate(QStyledItemDelegate):
    """Two lines per result: the prompt in bold, the details under it in a quieter colour."""

    def paint(self, painter, option, index) -> None:
        g: Generation = index.data(GenerationRole)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        rect = option.rect.adjusted(6, 3, -6, -3)
        painter.save()
        bold = QFont(option.font)
        bold.setBold(True)
        top = QFontMetrics(bold)
        painter.setFont(bold)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(option.palette.color(role))
        line = QRect(rect.left(), rect.top(), rect.width(), top.height())
        title, second = self.lines(g, option.font, option.rect)
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title)
        small = QFontMetrics(option.font)
        painter.setFont(option.font)
        if not selected:
            painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
        line = QRect(rect.left(), line.bottom() + 2, rect.width(), small.height())
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, second)
        painter.restore()

    @staticmethod
    def lines(g: Generation, font: QFont, item: QRect) -> tuple[str, str]:
        """The two lines as drawn in an item's rectangle (cut short with "…" to fit)."""
        width = item.width() - 12
        bold = QFont(font)
        bold.setBold(True)
        prompt = g.prompt or ("(continuation without a prompt)" if "continued_from" in g.settings
                              else "(no prompt: unconditional)")
        return (QFontMetrics(bold).elidedText(prompt, Qt.TextElideMode.ElideRight, width),
                QFontMetrics(font).elidedText(details(g), Qt.TextElideMode.ElideRight, width))

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 - Qt naming
        return QSize(200, 2 * QFontMetrics(option.font).height() + 10)


class ResultsPanel(QWidget):
    useSettings = Signal(object)  # the Generation whose settings go back into the form
    statusMessage = Signal(str)
    PLAY, STOP = "▶ Play", "■ Stop"

    def __init__(self, library: GenerationLibrary, queue: JobQueue, bridge: JobsBridge, settings: QSettings,
                 banner: Banner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library, self.queue, self.bridge, self.settings, self.banner = library, queue, bridge, settings, banner
        self.player = Player()
        self.audio: np.ndarray | None = None  # the shown result's samples (frames, channels)
        self.sample_rate = 0
        self.shown_id: str | None = None  # whose audio is loaded
        self._load_job: int | None = None
        self._loading_id: str | None = None  # whose audio that job reads
        self._play_when_loaded = False

        self.list = ResultsList()
        self.list.setObjectName("generations")
        self.list.setItemDelegate(ResultDelegate(self.list))
        self.list.setUniformItemSizes(True)
        row = 2 * self.list.fontMetrics().height() + 10  # ResultDelegate.sizeHint
        self.list.setMinimumHeight(3 * row + 2 * self.list.frameWidth())  # three results at least, never two
        self.play_button = QPushButton(self.PLAY)
        self.play_button.setToolTip("Play the selected result, or stop it (Space)")
        self.play_button.setMinimumWidth(self.play_button.fontMetrics().horizontalAdvance(self.STOP) + 16)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save as WAV or FLAC, with the prompt, model and seed in its tags")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected result (Delete)")
        self.use_button = QPushButton("Use settings")
        self.use_button.setToolTip("Put this result's prompt, settings and seed back into the form to make it again")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for b in (self.export_button, self.delete_button, self.use_button):
            b.setMinimumWidth(b.fontMetrics().horizontalAdvance(b.text()) + 16)  # not the style's 80 px each
        for b in (self.play_button, self.export_button, self.delete_button, self.use_button):
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.spectrogram = SpectrogramView()
        self.spectrogram.visible_label.hide()  # "seconds shown while recording": never live here
        self.spectrogram.visible_combo.hide()
        self.spectrogram.setMinimumWidth(300)  # its toolbar squeezes a little in a window narrower than 1024
        self.waveform = WaveformView()
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(4)
        top_layout.addWidget(self.list, 1)
        top_layout.addLayout(buttons)
        self.split = QSplitter(Qt.Orientation.Vertical)
        # the list first: at 1024x700 it shows five results or more, the views keep their own minimums
        for w, stretch in ((top, 5), (self.spectrogram, 3), (self.waveform, 2)):
            self.split.addWidget(w)
            self.split.setStretchFactor(self.split.count() - 1, stretch)
        self.split.setChildrenCollapsible(False)
        self.split.setSizes([4300, 3400, 2300])  # shares, scaled to the height it gets
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.split)

        self.playhead_timer = QTimer(self)
        self.playhead_timer.setInterval(33)
        self.playhead_timer.timeout.connect(self._follow_playhead)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.list, self.delete_selected,
                  context=Qt.ShortcutContext.WidgetShortcut)
        self.list.currentItemChanged.connect(self._selected)
        self.list.itemDoubleClicked.connect(lambda _item: self.play())
        self.play_button.clicked.connect(self.toggle_playback)
        self.export_button.clicked.connect(self.choose_export)
        self.delete_button.clicked.connect(lambda: self.delete_selected())
        self.use_button.clicked.connect(self._use_selected)
        self._update_buttons()

    # -- the list ----------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        """List the library again, newest first; keep (or move to) ``select``."""
        keep = select or (self.selected().id if self.selected() else None)
        self.list.blockSignals(True)
        self.list.clear()
        current = None
        for g in self.library.list():
            item = QListWidgetItem(g.prompt or "(no prompt: unconditional)")
            item.setData(GenerationRole, g)
            created = time.strftime("%Y-%m-%d %H:%M", time.localtime(g.created))
            item.setToolTip(f"{g.description}\n{format_duration(g.seconds)}, {g.sample_rate} Hz, "
                            f"{'mono' if g.channels == 1 else f'{g.channels} channels'}, made {created}")
            self.list.addItem(item)
            if g.id == keep:
                current = item
        self.list.blockSignals(False)
        if current is None and self.list.count():
            current = self.list.item(0)
        self.list.setCurrentItem(current)
        if current is None:
            self._selected(None)

    def selected(self) -> Generation | None:
        item = self.list.currentItem()
        return item.data(GenerationRole) if item is not None else None

    def _update_buttons(self) -> None:
        has = self.selected() is not None
        for b in (self.play_button, self.export_button, self.delete_button, self.use_button):
            b.setEnabled(has)
        self.play_button.setText(self.STOP if self.player.playing else self.PLAY)

    def _selected(self, item: QListWidgetItem | None, _previous=None) -> None:
        """Show the selected result: its audio is read, and its spectrogram computed, in a job."""
        self._update_buttons()
        g = item.data(GenerationRole) if item is not None else None
        if g is not None and g.id in (self.shown_id, self._loading_id):
            return  # shown already, or on its way
        self.stop()
        self.audio, self.shown_id, self._play_when_loaded = None, None, False
        self.spectrogram.clear()
        self.waveform.clear()
        if self._load_job is not None:
            self.queue.cancel(self._load_job)
            self._load_job = self._loading_id = None
        if g is None:
            return
        job = self.queue.submit(load_generation_preview, self.library, g.id, self.spectrogram.scale,
                                MAX_STATIC_COLUMNS, kind="open",
                                title=f"Open “{g.prompt[:40]}”", priority=Priority.INTERACTIVE, lane="cpu")
        self._load_job, self._loading_id = job.id, g.id
        self.bridge.watch(job.id, on_finished=lambda result: self._loaded(job.id, g, result),
                          on_failed=lambda message, _: self._load_failed(job.id, message),
                          on_cancelled=lambda: self._load_ended(job.id))

    def _load_ended(self, job_id: int) -> bool:
        """Whether ``job_id`` is the load still wanted (another selection may have replaced it)."""
        if job_id != self._load_job:
            return False
        self._load_job = self._loading_id = None
        return True

    def _loaded(self, job_id: int, g: Generation, result) -> None:
        if not self._load_ended(job_id):
            return
        self.audio, self.sample_rate, mono, pooled = result
        self.shown_id = g.id
        self.spectrogram.show_audio(mono, self.sample_rate, pooled)
        self.waveform.show_audio(mono, self.sample_rate)
        if self._play_when_loaded:
            self.play()

    def _load_failed(self, job_id: int, message: str) -> None:
        if self._load_ended(job_id):
            self.banner.show_message(f"Cannot show the result: {one_line(message)}", "error")

    # -- playback ----------------------------------------------------------------------------
    def play(self) -> None:
        """Play the selected result (once its audio has loaded)."""
        g = self.selected()
        if g is None:
            return
        if self.shown_id != g.id or self.audio is None:
            self._play_when_loaded = True
            return
        self._play_when_loaded = False
        try:
            self.player.play(self.audio, self.sample_rate)
        except AudioUnavailable as exc:
            self.banner.show_message(f"Cannot play: {exc}", "error")
            return
        self.playhead_timer.start()
        self._update_buttons()

    def stop(self) -> None:
        self.player.stop()
        self.playhead_timer.stop()
        self.waveform.set_playhead(None)
        self._update_buttons()

    def toggle_playback(self) -> None:
        if self.player.playing:
            self.stop()
        else:
            self.play()

    def _follow_playhead(self) -> None:
        if not self.player.playing:
            self.stop()
            return
        self.waveform.set_playhead(self.player.position)

    # -- actions -----------------------------------------------------------------------------
    def _use_selected(self) -> None:
        g = self.selected()
        if g is not None:
            self.useSettings.emit(g)

    def choose_export(self) -> None:
        g = self.selected()
        if g is None:
            return
        folder = get_str(self.settings, Keys.PATHS_EXPORT_DIR, str(Path.home()))
        name = safe_filename(" ".join(g.prompt.split()[:8]))[:60].strip() or "generation"
        path, chosen = QFileDialog.getSaveFileName(self, "Export the result", str(Path(folder) / f"{name}.wav"),
                                                   "WAV audio (*.wav);;FLAC audio (*.flac)")
        if not path:
            return
        if Path(path).suffix.lower() not in (".wav", ".flac"):
            path += ".flac" if "FLAC" in chosen else ".wav"
        self.settings.setValue(Keys.PATHS_EXPORT_DIR, str(Path(path).parent))
        self.export(g.id, path)

    def export(self, generation_id: str, path: str) -> int:
        """Write the file in a job (cpu lane); returns its id. A failure is a banner line."""
        job = self.queue.submit(lambda ctx: self.library.export(generation_id, path), kind="export",
                                title=f"Export {Path(path).name}", priority=Priority.INTERACTIVE, lane="cpu")
        self.bridge.watch(job.id, on_finished=lambda out: self.statusMessage.emit(f"Exported {Path(out).name}"),
                          on_failed=lambda message, _: self.banner.show_message(
                              f"Could not export: {one_line(message)}", "error"))
        return job.id

    def ask_delete(self, g: Generation) -> bool:
        answer = QMessageBox.question(self, "Delete the result",
                                      f"Delete “{g.prompt[:80]}” (seed {g.seed})? This cannot be undone.")
        return answer == QMessageBox.StandardButton.Yes

    def delete_selected(self, confirm: bool = True) -> bool:
        g = self.selected()
        if g is None or (confirm and not self.ask_delete(g)):
            return False
        row = self.list.currentRow()
        if self.shown_id == g.id:
            self.stop()
        try:
            self.library.delete(g.id)
        except GenerationError as exc:
            self.banner.show_message(str(exc), "error")
            return False
        self.refresh()
        if self.list.count():
            self.list.setCurrentRow(min(row, self.list.count() - 1))
        self.statusMessage.emit(f"Deleted “{g.prompt[:60]}”")
        return True

    def shutdown(self) -> None:
        self.stop()
