package org.edgekit.demo.core;

/** One class of a top-k answer. */
public final class Prediction {
    public final int classId;
    public final String label;
    public final float score;

    public Prediction(int classId, String label, float score) {
        this.classId = classId;
        this.label = label;
        this.score = score;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "%d %s %.4f", classId, label, score);
    }
}
