"""Compose's results: one card per variation, newest first, kept across restarts (the
CompositionLibrary in the data folder: they are listed again when the page opens). Each card
shows the prompt, the controls and seed it was made with, a small piano-roll preview (time ×
pitch, bar lines), and Play/Stop (the Score rendered with the SoundFont in a job on the cpu lane),
Open in piano roll, and Save .mid… (written atomically; a failure is one banner line); its
context menu deletes it (kept ones too)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRectF, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from engine.atomic import WriteError
from engine.tasks.compositions import CompositionError, CompositionLibrary
from engine.audio.devices import AudioUnavailable
from engine.audio.playback import Player
from engine.audio.takes import safe_filename
from engine.jobs import JobQueue, Priority
from engine.midi.instruments import program_name
from engine.midi.midifile import write_midi
from engine.midi.score import Score
from engine.models.composer.controls import Controls
from engine.tasks.music import render_score
from gui.common.settings import Keys, get_str
from gui.common.widgets import Banner
from gui.generate.models import one_line
from gui.jobs.bridge import JobsBridge


def describe(c: Controls) -> str:
    """The controls of a result in one line."""
    voices = f" · {c.voices} voice{'s' if c.voices != 1 else ''}" if c.voices else ""
    return (f"{c.style} · {c.key} · {c.meter[0]}/{c.meter[1]} · {c.bpm:g} BPM · {c.bars} bars · "
            f"{program_name(c.program)}{voices}")


@dataclass
class Composed:
    """One variation as the results show it."""

    prompt: str
    chips: str  # "jig · D major · 6/8 · 174 BPM · 16 bars · Violin · 1 voice"
    seed: int
    variation: int  # 1-based
    variations: int
    score: Score
    kept_id: str | None = None  # its id in the CompositionLibrary, when kept

    @property
    def title(self) -> str:
        words = " ".join(self.prompt.split()[:8]) or self.chips.split(" · ")[0]
        return f"{words} (seed {self.seed}, {self.variation} of {self.variations})" if self.variations > 1 \
            else f"{words} (seed {self.seed})"

    def details(self) -> str:
        count = f" · variation {self.variation} of {self.variations}" if self.variations > 1 else ""
        return f"{self.chips} · seed {self.seed}{count}"


class RollPreview(QWidget):
    """The notes painted small: time across, pitch up, a line at every bar; the playhead."""

    def __init__(self, score: Score, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.score = score
        self.playhead: float | None = None  # tick
        self.setMinimumHeight(56)
        self.setMinimumWidth(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(64)

    def set_playhead(self, tick: float | None) -> None:
        self.playhead = tick
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt naming
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.fillRect(rect, QColor("#fbfbfd"))
        painter.setPen(QPen(QColor("#c8c8d0")))
        painter.drawRect(rect)
        score = self.score
        notes = [n for t in score.tracks for n in t.notes]
        bar = max(1, score.ticks_per_bar)
        end = max(score.end_tick, bar)
        end = -(-end // bar) * bar  # whole bars
        sx = (rect.width() - 2) / end
        painter.setPen(QPen(QColor("#dedee6")))
        for tick in range(bar, end, bar):
            x = rect.left() + 1 + tick * sx
            painter.drawLine(int(x), int(rect.top()) + 1, int(x), int(rect.bottom()) - 1)
        if notes:
            low, high = min(n.pitch for n in notes) - 2, max(n.pitch for n in notes) + 2
            high = max(high, low + 12)
            row = (rect.height() - 4) / (high - low + 1)
            colour = QColor("#3b73c4")
            for n in notes:
                x = rect.left() + 1 + n.start * sx
                y = rect.top() + 2 + (high - n.pitch) * row
                painter.fillRect(QRectF(x, y, max(1.5, n.duration * sx - 0.5), max(1.5, row)), colour)
        if self.playhead is not None:
            painter.setPen(QPen(QColor("#d33"), 1.5))
            x = rect.left() + 1 + self.playhead * sx
            painter.drawLine(int(x), int(rect.top()), int(x), int(rect.bottom()))


class ResultCard(QFrame):
    PLAY, STOP = "▶ Play", "■ Stop"

    def __init__(self, item: Composed, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.item = item
        self.setObjectName("composed")
        self.setStyleSheet("QFrame#composed { border: 1px solid #d6d6de; border-radius: 6px; }")
        self.title_label = QLabel(f"<b>{_escape(item.prompt or '(no prompt)')}</b>")
        self.title_label.setTextFormat(Qt.TextFormat.RichText)
        self.title_label.setToolTip(item.prompt)
        self.title_label.setMinimumWidth(40)
        self.details_label = QLabel(" · ".join(part.replace(" ", "\u00a0") for part in item.details().split(" · ")))
        self.details_label.setWordWrap(True)
        self.details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_label.setStyleSheet("color: #666;")
        self.preview = RollPreview(item.score)
        self.preview.setToolTip(f"{item.score.note_count()} notes")
        self.play_button = QPushButton(self.PLAY)
        self.play_button.setToolTip("Play this piece with the SoundFont, or stop it")
        self.play_button.setMinimumWidth(self.play_button.fontMetrics().horizontalAdvance(self.STOP) + 16)
        self.open_button = QPushButton("Open in piano roll")
        self.open_button.setToolTip("Edit it in the piano roll (one step Ctrl+Z takes back there)")
        self.save_button = QPushButton("Save .mid…")
        self.save_button.setToolTip("Write it as a MIDI file")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for b in (self.play_button, self.open_button, self.save_button):
            b.setMinimumWidth(max(b.minimumWidth(), b.fontMetrics().horizontalAdvance(b.text()) + 16))
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(3)
        layout.addWidget(self.title_label)
        layout.addWidget(self.details_label)
        layout.addWidget(self.preview)
        layout.addLayout(buttons)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ComposeResults(QWidget):
    """The cards, newest on top; one piece plays at a time."""

    openScore = Signal(object, str)  # a copy of the Score, its title
    statusMessage = Signal(str)
    EMPTY = "No pieces yet: describe one and press Compose."

    def __init__(self, queue: JobQueue, bridge: JobsBridge, settings: QSettings, banner: Banner,
                 parent: QWidget | None = None, library: CompositionLibrary | None = None) -> None:
        super().__init__(parent)
        self.queue, self.bridge, self.settings, self.banner = queue, bridge, settings, banner
        self.library = library
        self.player = Player()
        self.cards: list[ResultCard] = []  # newest first
        self.playing: ResultCard | None = None  # rendering or playing
        self._render_job: int | None = None
        self.empty_label = QLabel(self.EMPTY)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        inner = QWidget()
        self.column = QVBoxLayout(inner)
        self.column.setContentsMargins(0, 0, 4, 0)
        self.column.setSpacing(6)
        self.column.addWidget(self.empty_label, 1)
        self.column.addStretch(0)
        self.area = QScrollArea()
        self.area.setWidget(inner)
        self.area.setWidgetResizable(True)
        self.area.setFrameShape(QFrame.Shape.NoFrame)
        self.area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        probe = ResultCard(Composed("", "", 0, 1, 1, Score()))  # a card's buttons side by side, never clipped
        self.area.setMinimumWidth(probe.minimumSizeHint().width() + 4 + self.area.verticalScrollBar().sizeHint().width())
        probe.deleteLater()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Pieces</b>"))
        layout.addWidget(self.area, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(33)
        self.timer.timeout.connect(self._follow)
        self.load()

    def load(self) -> None:
        """The pieces kept in the library and not shown yet (at start, all; later, those made with
        `motet compose` meanwhile), newest first, on top."""
        if self.library is None:
            return
        shown = {c.item.kept_id for c in self.cards}
        batches: list[list[Composed]] = []  # newest first; a batch's pieces were kept one after another
        for p in self.library.list(skip=shown):
            item = Composed(p.prompt, describe(p.controls), p.seed, p.variation, p.variations, p.score, p.id)
            last = batches[-1][-1] if batches else None
            if last and (last.prompt, last.seed, last.variations) == (item.prompt, item.seed, item.variations) \
                    and len(batches[-1]) < item.variations:
                batches[-1].append(item)
            else:
                batches.append([item])
        self.add([item for batch in batches for item in sorted(batch, key=lambda i: i.variation)])  # new: on top

    def add(self, items: list[Composed], at: int = 0) -> list[ResultCard]:
        """Put a batch on top (or at ``at``), in variation order."""
        if not items:
            return []
        self.empty_label.hide()
        made = []
        for i, item in enumerate(items, at):
            card = ResultCard(item)
            card.play_button.clicked.connect(lambda _=False, c=card: self.toggle(c))
            card.open_button.clicked.connect(lambda _=False, c=card: self.openScore.emit(c.item.score.copy(),
                                                                                         c.item.title))
            card.save_button.clicked.connect(lambda _=False, c=card: self.choose_save(c))
            card.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            card.customContextMenuRequested.connect(lambda pos, c=card: self._card_menu(c, pos))
            self.column.insertWidget(i, card)
            made.append(card)
        self.cards[at:at] = made
        if at == 0:
            self.area.verticalScrollBar().setValue(0)
        return made

    # -- playback ----------------------------------------------------------------------------
    def toggle(self, card: ResultCard | None = None) -> None:
        card = card or (self.playing or (self.cards[0] if self.cards else None))
        if card is None:
            return
        if self.playing is card:
            self.stop()
        else:
            self.play(card)

    def play(self, card: ResultCard) -> int:
        """Render (cpu lane) then play; returns the render job's id."""
        self.stop()
        self.playing = card
        card.play_button.setText(card.STOP)
        job = self.queue.submit(render_score, card.item.score.copy(), kind="render", title="Render composed piece",
                                priority=Priority.INTERACTIVE, lane="cpu")
        self._render_job = job.id
        self.bridge.watch(job.id, on_finished=lambda audio: self._rendered(job.id, card, audio),
                          on_failed=lambda message, _: self._render_failed(job.id, message),
                          on_cancelled=lambda: None)
        return job.id

    def _rendered(self, job_id: int, card: ResultCard, audio) -> None:
        if job_id != self._render_job:
            return  # stopped, or another piece asked for meanwhile
        self._render_job = None
        from engine.midi.synth import get_synthesizer

        try:
            self.player.play(audio, get_synthesizer().sample_rate)
        except AudioUnavailable as exc:
            self.banner.show_message(f"Cannot play: {one_line(str(exc))}", "error")
            self.stop()
            return
        self.timer.start()

    def _render_failed(self, job_id: int, message: str) -> None:
        if job_id == self._render_job:
            self._render_job = None
            self.stop()
            self.banner.show_message(f"Could not render the piece: {one_line(message)}", "error")

    def _follow(self) -> None:
        card = self.playing
        if card is None or not self.player.playing:
            self.stop()
            return
        score = card.item.score
        card.preview.set_playhead(score.tick_at(self.player.position))

    def stop(self) -> None:
        if self._render_job is not None:
            self.queue.cancel(self._render_job)
            self._render_job = None
        self.player.stop()
        self.timer.stop()
        if self.playing is not None:
            self.playing.play_button.setText(ResultCard.PLAY)
            self.playing.preview.set_playhead(None)
        self.playing = None

    # -- deleting ----------------------------------------------------------------------------
    def _card_menu(self, card: ResultCard, pos) -> None:
        menu = QMenu(card)
        menu.addAction("Delete this piece…", lambda: self.delete(card))
        menu.exec(card.mapToGlobal(pos))

    def ask_delete(self, card: ResultCard) -> bool:
        answer = QMessageBox.question(self, "Delete the piece",
                                      f"Delete “{card.item.title}”? It is no longer listed after a restart.")
        return answer == QMessageBox.StandardButton.Yes

    def delete(self, card: ResultCard, confirm: bool = True) -> bool:
        """Remove a piece from the results and from the kept ones; a failure is one banner line."""
        if card not in self.cards or (confirm and not self.ask_delete(card)):
            return False
        if self.playing is card:
            self.stop()
        if card.item.kept_id and self.library is not None:
            try:
                self.library.delete(card.item.kept_id)
            except CompositionError as exc:
                self.banner.show_message(one_line(str(exc)[:1].upper() + str(exc)[1:]), "error")
                return False
        self.cards.remove(card)
        self.column.removeWidget(card)
        card.deleteLater()
        self.empty_label.setVisible(not self.cards)
        self.statusMessage.emit(f"Deleted “{card.item.title}”")
        return True

    # -- saving ------------------------------------------------------------------------------
    def choose_save(self, card: ResultCard) -> None:
        folder = get_str(self.settings, Keys.PATHS_MIDI_DIR, str(Path.home()))
        stem = safe_filename(" ".join(card.item.prompt.split()[:8]))[:60].strip() or "composed"
        suffix = f"-{card.item.seed}" + (f"-{card.item.variation}" if card.item.variations > 1 else "")
        path, _ = QFileDialog.getSaveFileName(self, "Save the piece as MIDI", str(Path(folder) / f"{stem}{suffix}.mid"),
                                              "MIDI files (*.mid *.midi)")
        if not path:
            return
        if not Path(path).suffix:
            path += ".mid"
        self.settings.setValue(Keys.PATHS_MIDI_DIR, str(Path(path).parent))
        self.save(card, path)

    def save(self, card: ResultCard, path: str | Path) -> bool:
        """Write the piece (atomically: nothing half-written); a failure is one banner line."""
        try:
            write_midi(card.item.score, path)
        except WriteError as exc:  # already "could not save 'name': the cause"
            self.banner.show_message(one_line(str(exc)[:1].upper() + str(exc)[1:]), "error")
            return False
        except (OSError, ValueError) as exc:
            self.banner.show_message(f"Could not save {Path(path).name}: {one_line(str(exc))}", "error")
            return False
        self.statusMessage.emit(f"Saved {Path(path).name}")
        return True

    def shutdown(self) -> None:
        self.stop()
