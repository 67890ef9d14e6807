package org.edgekit.demo.core;

import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/**
 * Runs the demo's JVM tests and ends with one summary line, {@code N passed, N failed, N skipped},
 * so a caller (pytest) can tell a skipped cross-check from a passed one.
 */
public final class JvmTests {
    static final Class<?>[] ALL = {
        LinearResizeTest.class, PreprocessorTest.class, ModelDescriptionTest.class, LabelsTest.class, TopKTest.class,
        OrientationTest.class, ModelInfoTest.class, ClassifierTest.class, CrossCheckTest.class,
    };

    private JvmTests() {
    }

    public static void main(String[] args) {
        final int[] assumed = {0};
        final int[] ignored = {0};
        JUnitCore core = new JUnitCore();
        core.addListener(new RunListener() {
            @Override
            public void testFailure(Failure failure) {
                System.out.println("FAILED " + failure.getTestHeader() + ": " + failure.getMessage());
                if (!(failure.getException() instanceof AssertionError)) {
                    failure.getException().printStackTrace(System.out);
                }
            }

            @Override
            public void testAssumptionFailure(Failure failure) {
                assumed[0]++;
                System.out.println("SKIPPED " + failure.getTestHeader() + ": " + failure.getMessage());
            }

            @Override
            public void testIgnored(Description description) {
                ignored[0]++;
            }
        });
        Result result = core.run(ALL);
        int failed = result.getFailureCount();
        // Tests skipped by an assumption count as run in JUnit 4; ignored ones do not.
        int passed = result.getRunCount() - failed - assumed[0];
        System.out.println(passed + " passed, " + failed + " failed, " + (assumed[0] + ignored[0]) + " skipped");
        System.exit(failed == 0 ? 0 : 1);
    }
}
