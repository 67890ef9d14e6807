package org.edgekit.demo;

import android.content.Context;
import android.content.SharedPreferences;
import android.preference.PreferenceManager;

import org.edgekit.demo.core.ModelInfo;
import org.edgekit.demo.core.PowerModes;

/** The user's choices (settings screen), in the app's default SharedPreferences. */
final class Settings {
    static final String MODEL_PATH = "model_path";
    static final String THREADS = "threads";
    static final String POWER_MODE = "power_mode";

    final String modelPath;   // empty: the bundled model
    final int threads;
    final String powerMode;

    private Settings(String modelPath, int threads, String powerMode) {
        this.modelPath = modelPath;
        this.threads = threads;
        this.powerMode = powerMode;
    }

    /** Writes the build's defaults for the values the user has not chosen yet. */
    static void ensureDefaults(Context context, ModelInfo info) {
        SharedPreferences prefs = PreferenceManager.getDefaultSharedPreferences(context);
        SharedPreferences.Editor editor = prefs.edit();
        if (!prefs.contains(THREADS)) {
            editor.putString(THREADS, Integer.toString(info.defaultThreads));
        }
        if (!prefs.contains(POWER_MODE)) {
            editor.putString(POWER_MODE, info.defaultPowerMode);
        }
        if (!prefs.contains(MODEL_PATH)) {
            editor.putString(MODEL_PATH, "");
        }
        editor.apply();
    }

    static Settings load(Context context, ModelInfo info) {
        SharedPreferences prefs = PreferenceManager.getDefaultSharedPreferences(context);
        int threads;
        try {
            threads = Math.max(1, Integer.parseInt(prefs.getString(THREADS, Integer.toString(info.defaultThreads))));
        } catch (NumberFormatException e) {
            threads = info.defaultThreads;
        }
        String powerMode = prefs.getString(POWER_MODE, info.defaultPowerMode);
        try {
            PowerModes.check(powerMode);
        } catch (IllegalArgumentException e) {
            powerMode = info.defaultPowerMode;
        }
        return new Settings(prefs.getString(MODEL_PATH, "").trim(), threads, powerMode);
    }

    boolean usesBundledModel() {
        return modelPath.isEmpty();
    }

    /** Equal settings need no model reload. */
    String signature() {
        return modelPath + "|" + threads + "|" + powerMode;
    }
}
