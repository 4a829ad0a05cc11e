#!/usr/bin/env python
"""
Connect Four for two players and any number of watchers, routed by first message.

Every connection opens on ``ws://localhost:8000/game`` and its first message
says what it wants::

    {"type": "init"}                     start a game; play red
    {"type": "join", "join": "<key>"}    join a game; play yellow
    {"type": "watch", "watch": "<key>"}  watch a game

The player who starts a game receives its keys, to share::

    {"type": "init", "join": "<key>", "watch": "<key>"}

Players then send ``{"type": "play", "column": 3}``, columns being numbered
0 to 6 from the left. Players and watchers receive every move, including
those made before they came, and the end of the game::

    {"type": "play", "player": "red", "column": 3, "row": 0}
    {"type": "win", "player": "red"}

A move that the rules refuse gets an error, to its player only, and the game
goes on::

    {"type": "error", "message": "It isn't your turn."}

A client that breaks the protocol is disconnected with a close code: 1007 for
a message that isn't JSON, 1008 for a first message that isn't one of the
three above, 4004 for a key that names no game (a game ends when the player
who started it leaves) and 4009 for joining a game that has two players.

Open http://localhost:8000/ in two browser tabs to play.

"""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path
from typing import Any, Literal

from websockets.asyncio.server import broadcast

from wsroute import App, CloseConnection, Connection, FirstMessageRouter
from wsroute.http import page

RED, YELLOW = "red", "yellow"


class IllegalMove(Exception):
    """Raised for a move that the rules of Connect Four don't allow."""


@dataclasses.dataclass(frozen=True)
class Move:
    """A move: who played, in which column, and the row the disc fell to."""

    player: str
    column: int
    row: int


class Connect4:
    """
    The rules of Connect Four, without any I/O.

    Red plays first. A disc falls to the lowest free row of its column, row
    0 being the bottom. Four discs of a color in a line, across, up or along
    a diagonal, win.

    """

    COLUMNS = 7
    ROWS = 6

    def __init__(self) -> None:
        #: The moves so far, first to last.
        self.moves: list[Move] = []
        #: The color of the winner, once there is one.
        self.winner: str | None = None
        self.columns: list[list[str]] = [[] for _ in range(self.COLUMNS)]

    @property
    def next_player(self) -> str:
        """The color whose turn it is."""
        return RED if len(self.moves) % 2 == 0 else YELLOW

    def play(self, player: str, column: int) -> Move:
        """
        Drop a disc of ``player``'s color in ``column``.

        Raises:
            IllegalMove: If the game is over, it isn't the player's turn, or
                the column doesn't exist or is full.

        """
        if self.winner is not None:
            raise IllegalMove("The game is over.")
        if player != self.next_player:
            raise IllegalMove("It isn't your turn.")
        if not 0 <= column < self.COLUMNS:
            raise IllegalMove(f"Columns are numbered 0 to {self.COLUMNS - 1}.")
        discs = self.columns[column]
        if len(discs) == self.ROWS:
            raise IllegalMove("This column is full.")
        discs.append(player)
        move = Move(player, column, len(discs) - 1)
        self.moves.append(move)
        if self.wins(move):
            self.winner = player
        return move

    def color_at(self, column: int, row: int) -> str | None:
        """Return the color of the disc at a place; None if empty or off the board."""
        if 0 <= column < self.COLUMNS and 0 <= row < len(self.columns[column]):
            return self.columns[column][row]
        return None

    def wins(self, move: Move) -> bool:
        """Tell whether a move lines up four discs of its color."""
        for step_column, step_row in [(1, 0), (0, 1), (1, 1), (1, -1)]:
            in_line = 1
            for direction in (1, -1):
                for distance in range(1, 4):
                    column = move.column + direction * distance * step_column
                    row = move.row + direction * distance * step_row
                    if self.color_at(column, row) != move.player:
                        break
                    in_line += 1
            if in_line >= 4:
                return True
        return False


class Game:
    """
    A game being played: its board, its keys, and who follows it.

    Every event that players and watchers receive is kept, so that whoever
    comes later receives the game from its start.

    """

    def __init__(self) -> None:
        self.board = Connect4()
        self.join_key = secrets.token_urlsafe(12)
        self.watch_key = secrets.token_urlsafe(12)
        #: Whether the second player joined already.
        self.joined = False
        #: Players and watchers: who receives the events.
        self.followers: set[Connection] = set()
        #: The events sent so far, encoded.
        self.events: list[str] = []

    def follow(self, ws: Connection) -> None:
        """Send a newcomer the events so far; from now on, the next ones too."""
        # broadcast() writes to the connection's buffer and returns without
        # waiting, unlike send(): no move can slip in between.
        for message in self.events:
            broadcast([ws], message)
        self.followers.add(ws)

    def unfollow(self, ws: Connection) -> None:
        """Stop sending events to a connection that leaves."""
        self.followers.discard(ws)

    def tell(self, event: dict[str, Any]) -> None:
        """
        Send an event to players and watchers, and keep it for newcomers.

        :func:`~websockets.asyncio.server.broadcast` doesn't wait for a
        connection's buffer to drain, so a client that stops reading slows no
        one but makes its buffer grow: fine for the few small events of a
        game, see ``examples/chat.py`` for more.

        """
        message = json.dumps(event)
        self.events.append(message)
        broadcast(self.followers, message)


class Games:
    """The games in progress, found by their join and watch keys."""

    def __init__(self) -> None:
        self.by_join_key: dict[str, Game] = {}
        self.by_watch_key: dict[str, Game] = {}

    def create(self) -> Game:
        """Start a game, to be found by its keys until it's removed."""
        game = Game()
        self.by_join_key[game.join_key] = game
        self.by_watch_key[game.watch_key] = game
        return game

    def remove(self, game: Game) -> None:
        """Forget a game: its keys no longer find it."""
        del self.by_join_key[game.join_key]
        del self.by_watch_key[game.watch_key]

    def find(self, message: dict[str, Any], field: Literal["join", "watch"]) -> Game:
        """
        Find the game whose join or watch key a first message holds in ``field``.

        Raises:
            CloseConnection: 4004 if no game has this key, or there is no key.

        """
        keys = self.by_join_key if field == "join" else self.by_watch_key
        key = message.get(field)
        game = keys.get(key) if isinstance(key, str) else None
        if game is None:
            raise CloseConnection(4004, "game not found")
        return game


async def play(ws: Connection, game: Game, player: str) -> None:
    """
    Receive a player's moves and tell everyone, until the player leaves.

    When the player leaves, ``recv_json()`` raises ``ConnectionClosed``,
    which wsroute takes for the normal end of a connection.

    """
    while True:
        event = await ws.recv_json()  # closes with 1007 if it isn't JSON
        if not (isinstance(event, dict) and event.get("type") == "play"):
            await ws.send_json({"type": "error", "message": "Expected a play."})
            continue
        column = event.get("column")
        if type(column) is not int:  # not a float, nor True
            await ws.send_json({"type": "error", "message": "Expected a column."})
            continue
        try:
            move = game.board.play(player, column)
        except IllegalMove as exc:
            await ws.send_json({"type": "error", "message": str(exc)})
            continue
        game.tell({"type": "play", **dataclasses.asdict(move)})
        if game.board.winner is not None:
            game.tell({"type": "win", "player": game.board.winner})


def create_app() -> App:
    """Create the app, with a registry of games of its own."""
    app = App()
    games = Games()
    first_message = FirstMessageRouter("game")

    @first_message.on("init")
    async def init(ws: Connection, message: dict[str, Any]) -> None:
        game = games.create()
        try:
            await ws.send_json(
                {"type": "init", "join": game.join_key, "watch": game.watch_key}
            )
            game.follow(ws)
            await play(ws, game, RED)
        finally:
            games.remove(game)
            game.unfollow(ws)

    @first_message.on("join")
    async def join(ws: Connection, message: dict[str, Any]) -> None:
        game = games.find(message, "join")
        if game.joined:
            raise CloseConnection(4009, "game already has two players")
        game.joined = True
        game.follow(ws)
        try:
            await play(ws, game, YELLOW)
        finally:
            game.unfollow(ws)

    @first_message.on("watch")
    async def watch(ws: Connection, message: dict[str, Any]) -> None:
        game = games.find(message, "watch")
        game.follow(ws)
        try:
            await ws.wait_closed()
        finally:
            game.unfollow(ws)

    app.add_route("/game", first_message)
    app.get("/")(page(Path(__file__).with_name("pages") / "game.html"))
    return app


app = create_app()


if __name__ == "__main__":
    app.run()
