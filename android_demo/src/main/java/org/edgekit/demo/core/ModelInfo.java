package org.edgekit.demo.core;

import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import java.util.Properties;

/**
 * What {@code edgekit app build} wrote into {@code assets/edgekit.properties}: which model is
 * bundled, where its description ({@code description.json}: input shape, preprocessing, labels)
 * and its label list are, and the runtime defaults. One source of truth: the build writes these
 * values from edgekit's own settings and the model's description, the app only reads them.
 */
public final class ModelInfo {
    public final String modelName;
    public final String modelAsset;
    public final String modelSha256;
    public final String descriptionAsset;
    public final String labelsAsset;  // null: the model has no labels, classes are shown by id
    public final String sampleAsset;
    public final int defaultThreads;
    public final String defaultPowerMode;

    private ModelInfo(Properties p) {
        modelName = required(p, "model.name");
        modelAsset = required(p, "model.asset");
        modelSha256 = required(p, "model.sha256");
        descriptionAsset = required(p, "description.asset");
        String labels = p.getProperty("labels.asset", "").trim();
        labelsAsset = labels.isEmpty() ? null : labels;
        sampleAsset = required(p, "sample.asset");
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

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s (%s, described in %s)", modelName, modelAsset, descriptionAsset);
    }
}
