"""Read the data behind the Altair charts an AppTest run produced."""

import pyarrow as pa


def chart_frames(at) -> list:
    """One list of DataFrames (the chart's datasets) per vega_lite_chart element, in page order."""
    out = []
    for el in at.get("vega_lite_chart"):
        frames = []
        for ds in el.proto.datasets:
            frames.append(pa.ipc.open_stream(ds.data.data).read_all().to_pandas())
        out.append(frames)
    return out
