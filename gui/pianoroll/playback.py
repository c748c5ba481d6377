"""The piano roll's sound: key previews, the playhead and loop region, and playback of the score
rendered with the SoundFont as a job (long scores take a moment)."""

from __future__ import annotations

import time

from engine.audio.devices import AudioUnavailable
from engine.jobs import Priority
from engine.midi.score import Score
from engine.tasks import music as music_jobs


class PlaybackMixin:
    """Part of :class:`gui.pianoroll.view.PianoRollView`: play, loop, follow the playhead, stop."""

    def warm_synthesizer(self) -> None:
        """Load the SoundFont on a background thread when the page first shows, so that the first
        Play (or key preview) does not wait for it (it took more than 2 s; later ones 0.3 s)."""
        from engine.midi.synth import warm_up_in_background

        self.synth_warm_up = warm_up_in_background()

    def preview_key(self, pitch: int) -> None:
        from engine.midi.synth import get_synthesizer

        try:
            track = self.doc.track
            audio = get_synthesizer().render_note(pitch, track.program, track.channel)
            self.player.play(audio, get_synthesizer().sample_rate)
        except Exception as exc:  # noqa: BLE001 - no output device, broken SoundFont: say so, go on
            self.banner.show_message(f"Cannot play: {exc}", "error")

    def set_playhead(self, tick: int) -> None:
        self.canvas.set_playhead(tick)

    def set_loop(self, start: int, end: int) -> None:
        loop = (start, end) if end > start else None
        self.canvas.loop = self.ruler.loop = loop
        self.canvas.update()
        self.ruler.update()
        if loop:
            self.loop_button.setChecked(True)
            self.set_playhead(start)

    def toggle_play(self) -> None:
        if self.player.playing or self._render_jobs:
            self.stop()
        else:
            self.play()

    def play(self, score: Score | None = None, start: int | None = None) -> None:
        """Render (on the cpu lane: long scores take a moment) then play from the playhead."""
        loop = score is None and self.loop_button.isChecked() and self.canvas.loop is not None
        begin, end = self.canvas.loop if loop else (self.canvas.playhead if start is None else start, None)
        score = score or self.doc.score.copy()
        start = 0 if not loop and begin >= score.end_tick else begin
        job = self.queue.submit(music_jobs.render_score, score, start, end, 0.0 if loop else 1.0, kind="render",
                                title="Render MIDI", priority=Priority.INTERACTIVE, lane="cpu")
        self._render_jobs[job.id] = (start, loop)
        self.bridge.watch(job.id, on_finished=lambda audio: self._render_ended(job.id, audio),
                          on_failed=lambda message, _: self._render_ended(job.id, None, message),
                          on_cancelled=lambda: self._render_ended(job.id, None))
        self.play_button.setText("■ Stop")

    def _render_ended(self, job_id: int, audio, error: str | None = None) -> None:
        if job_id not in self._render_jobs:  # stopped meanwhile
            return
        start, loop = self._render_jobs.pop(job_id)
        if audio is not None:
            self._rendered.emit(audio, start, loop)
            return
        self.play_button.setText("▶ Play")
        if error is not None:
            self.banner.show_message(f"Could not render the score: {error}", "error")

    def _start_playback(self, audio, start: int, loop: bool) -> None:
        from engine.midi.synth import get_synthesizer

        try:
            self.player.play(audio, get_synthesizer().sample_rate)
        except AudioUnavailable as exc:
            self.banner.show_message(f"Cannot play: {exc}", "error")
            self.play_button.setText("▶ Play")
            return
        self._loop_audio = audio if loop else None
        self._play_origin = (time.monotonic(), start)
        self.play_button.setText("■ Stop")
        self.play_timer.start()

    def _follow_playhead(self) -> None:
        if self._play_origin is None:
            return
        _, start = self._play_origin
        if not self.player.playing:
            if self._loop_audio is not None and self.loop_button.isChecked():
                self._start_playback(self._loop_audio, start, True)
                return
            self.stop(keep_playhead=True)
            return
        score = self.doc.score
        tick = score.tick_at(score.seconds_at(start) + self.player.position)
        self.canvas.set_playhead(int(tick))
        # keep the playhead in view
        hbar = self.grid_area.horizontalScrollBar()
        x = self.geo.x(tick)
        if not hbar.value() <= x <= hbar.value() + self.grid_area.viewport().width() - 20:
            hbar.setValue(int(x - 40))

    def stop(self, keep_playhead: bool = False) -> None:
        for job_id in list(self._render_jobs):
            self.queue.cancel(job_id)
        self._render_jobs.clear()
        self.player.stop()
        self.play_timer.stop()
        if self._play_origin is not None and not keep_playhead:
            self.canvas.set_playhead(self._play_origin[1])
        self._play_origin = None
        self._loop_audio = None
        self.play_button.setText("▶ Play")
