package org.edgekit.demo;

import android.os.Build;

import java.util.Arrays;

import org.edgekit.demo.core.InferenceEngine;

/**
 * Finds the inference engine packaged in this APK, by class name: {@code edgekit app build}
 * compiles {@code org.edgekit.demo.lite.PaddleLiteEngine} (and dexes Paddle Lite's jar) only when
 * it is given Paddle Lite's Java library. Without it there is no engine, and the app says so.
 */
final class EngineLoader {
    static final String PADDLE_LITE_ENGINE = "org.edgekit.demo.lite.PaddleLiteEngine";

    /** Why no engine could be made, in words for the user. */
    static final class UnavailableException extends Exception {
        private static final long serialVersionUID = 1L;

        UnavailableException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private EngineLoader() {
    }

    static InferenceEngine create(String noLibraryMessage) throws UnavailableException {
        Class<?> engineClass;
        try {
            engineClass = Class.forName(PADDLE_LITE_ENGINE);
        } catch (ClassNotFoundException e) {
            throw new UnavailableException(noLibraryMessage, e);
        }
        try {
            return (InferenceEngine) engineClass.newInstance();
        } catch (UnsatisfiedLinkError e) {
            throw new UnavailableException(nativeLibraryMessage(e), e);
        } catch (NoClassDefFoundError e) {
            throw new UnavailableException(nativeLibraryMessage(e), e);
        } catch (InstantiationException e) {
            throw new UnavailableException("cannot create " + PADDLE_LITE_ENGINE + ": " + e, e);
        } catch (IllegalAccessException e) {
            throw new UnavailableException("cannot create " + PADDLE_LITE_ENGINE + ": " + e, e);
        }
    }

    private static String nativeLibraryMessage(Throwable e) {
        return "Paddle Lite's native library (libpaddle_lite_jni.so) cannot be loaded on this phone, whose ABIs are "
                + Arrays.toString(Build.SUPPORTED_ABIS) + ": the APK may hold it for another ABI only. (" + e + ")";
    }
}
