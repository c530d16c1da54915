"""fer_core: the library behind the facial-expression monitoring app.

Data loading, networks, training and evaluation, face detection, the per-frame pipeline, the
Parquet log store and the analytics used by the dashboard. It never imports streamlit or av, so it
serves the app, the command line and notebooks alike.
"""

__version__ = "0.1.0"
