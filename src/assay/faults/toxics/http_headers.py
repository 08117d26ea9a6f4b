"""http_headers: add (or replace) and remove headers of matching requests (upstream)
or responses (downstream); the body passes untouched."""

from __future__ import annotations

import dataclasses
from typing import Any

from assay.faults.httpmsg import Head
from assay.faults.toxics.base import Stub, register
from assay.faults.toxics.http_base import (
    PASS,
    HttpState,
    HttpToxic,
    check_header_name,
    check_headers,
    check_str_list,
)


@register
@dataclasses.dataclass(frozen=True)
class HttpHeadersToxic(HttpToxic):
    type_name = "http_headers"
    add: dict[str, Any] = dataclasses.field(default_factory=dict)
    remove: list[Any] = dataclasses.field(default_factory=list)

    def validate(self) -> None:
        super().validate()
        check_headers("add", self.add)
        check_str_list("remove", self.remove)
        for name in self.remove:
            check_header_name("remove", name)

    async def on_fire(self, stub: Stub, st: HttpState, head: Head) -> None:
        drop = {name.lower() for name in self.remove} | {name.lower() for name in self.add}
        headers = [(k, v) for k, v in head.headers if k.lower() not in drop]
        headers += list(self.add.items())
        self.emit(stub, head.render(headers))
        st.mode = PASS
