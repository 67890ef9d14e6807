package org.edgekit.demo.core;

/** Paddle Lite's CPU power modes (its {@code PowerMode} enum), by name. */
public final class PowerModes {
    public static final String[] NAMES = {
        "LITE_POWER_HIGH", "LITE_POWER_LOW", "LITE_POWER_FULL",
        "LITE_POWER_NO_BIND", "LITE_POWER_RAND_HIGH", "LITE_POWER_RAND_LOW",
    };

    private PowerModes() {
    }

    /** {@code name} when it is one of Paddle Lite's power modes, else IllegalArgumentException. */
    public static String check(String name) {
        for (String known : NAMES) {
            if (known.equals(name)) {
                return name;
            }
        }
        throw new IllegalArgumentException("unknown power mode " + name + " (known: " + join(NAMES) + ")");
    }

    private static String join(String[] names) {
        StringBuilder out = new StringBuilder();
        for (String n : names) {
            out.append(out.length() > 0 ? ", " : "").append(n);
        }
        return out.toString();
    }
}
