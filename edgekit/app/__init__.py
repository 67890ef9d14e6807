"""The Android demo app: building its APK with Debian's Android tools, installing it over adb.

``build_app`` (edgekit.app.build) and ``install_app`` (edgekit.app.install) are the API; the
heavy parts (OpenCV for the sample photo, opt through edgekit.convert) load only when used.
"""

from edgekit.app.build import AppBuild, AppOptions, BundledModel, build_app
from edgekit.app.install import InstallResult, install_app

__all__ = ["AppBuild", "AppOptions", "BundledModel", "InstallResult", "build_app", "install_app"]
