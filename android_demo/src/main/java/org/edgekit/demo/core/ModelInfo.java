package org.edgekit.demo.core;

import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import java.util.Properties;

/**
 * What {@code edgekit app build} wrote into {@code assets/edgekit.properties}: which model is
 * bundled and how to prepare its input. One source of truth: the build writes these values from
 * edgekit's own settings, the app only reads them.
 */
public final class ModelInfo {
    public final String modelName;
    public final String modelAsset;
    public final String modelSha256;
    public final String labelsAsset;
    public final String sampleAsset;
    public final Preprocessor preprocessor;
    public final int defaultThreads;
    public final String defaultPowerMode;

    private ModelInfo(Properties p) {
        modelName = required(p, "model.name");
        modelAsset = required(p, "model.asset");
        modelSha256 = required(p, "model.sha256");
        labelsAsset = required(p, "labels.asset");
        sampleAsset = required(p, "sample.asset");
        preprocessor = new Preprocessor(intValue(p, "preprocess.crop"), intValue(p, "preprocess.resize_short"),
                floats(p, "preprocess.mean"), floats(p, "preprocess.std"));
        defaultThreads = intValue(p, "runtime.threads");
        defaultPowerMode = required(p, "runtime.power_mode");
    }

    public static ModelInfo read(InputStream stream) throws IOException {
        Properties properties = new Properties();
        properties.load(stream);
        return new ModelInfo(properties);
    }

    private static String required(Properties p, String key) {
        String value = p.getProperty(key);
        if (value == null || value.trim().isEmpty()) {
            throw new IllegalArgumentException("edgekit.properties has no " + key);
        }
        return value.trim();
    }

    private static int intValue(Properties p, String key) {
        try {
            return Integer.parseInt(required(p, key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("edgekit.properties: " + key + " is not an integer");
        }
    }

    private static float[] floats(Properties p, String key) {
        String[] parts = required(p, key).split(",");
        float[] values = new float[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                values[i] = Float.parseFloat(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("edgekit.properties: " + key + " is not a list of numbers");
            }
        }
        return values;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s (%s, crop %d of short side %d)", modelName, modelAsset,
                preprocessor.crop(), preprocessor.resizeShort());
    }
}
